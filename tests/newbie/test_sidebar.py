"""The checklist card on the sidebar's "today": Chinese first, only the guide's own, confirm and check."""

from __future__ import annotations

import re

import pytest

from tests.newbie.conftest import ledger_of, progress_of

pytestmark = pytest.mark.django_db


def _steps(body: str) -> list[tuple[str, str]]:
    """[(step key, 'done' | 'next' | '')] in the order shown."""
    return [(key, "done" if "done" in cls else "next" if "next" in cls else "")
            for cls, key in re.findall(r'<li class="nb-step([^"]*)" data-testid="newbie-step" data-step="([^"]+)"', body)]


def test_a_newbie_sees_the_game_card_chinese_first_with_progress_coins_and_the_next_step(
        brand_a, newbie, share_link, sidebar_as):
    from tasks.newbie.services import newbie_refresh

    guide = newbie(brand_a)
    share_link(guide)
    newbie_refresh(brand=brand_a)

    body = sidebar_as(guide).get("/sidebar/today/").content.decode()

    assert 'data-testid="newbie-checklist"' in body
    assert body.index("新手任务") < body.index("Newbie quest")
    assert body.index("设置朋友圈封面") < body.index("Set your Moments cover")
    assert re.search(r'data-testid="newbie-progress">1/5<', body)
    assert re.search(r'data-testid="newbie-coins"[^>]*>\s*<b>20</b><span class="muted">/100</span>', body)
    assert _steps(body) == [("moments_cover", "next"), ("add_customers", ""), ("post_moment", ""),
                            ("first_lifecycle_task", ""), ("first_share_link", "done")]
    assert "0/3" in body  # customers still to add
    assert body.count('data-testid="newbie-confirm"') == 1 and body.count('data-testid="newbie-check"') == 1
    assert "企业微信 → 客户朋友圈" in body  # the next step's how-to


def test_a_veteran_sees_no_checklist(brand_a, make_guide, sidebar_as):
    body = sidebar_as(make_guide(brand_a)).get("/sidebar/today/").content.decode()

    assert "newbie-checklist" not in body and "newbie-done" not in body


def test_the_confirm_button_completes_my_step_not_a_colleagues(brand_a, newbie, sidebar_as):
    from tasks.newbie.models import NewbieStep

    guide, colleague = newbie(brand_a), newbie(brand_a, name="同事")
    cover = NewbieStep.objects.get(key="moments_cover")

    response = sidebar_as(guide).post(f"/sidebar/newbie/steps/{cover.pk}/confirm/", follow=True)
    colleague_body = sidebar_as(colleague).get("/sidebar/today/").content.decode()

    assert "新手任务完成" in response.content.decode()
    assert _steps(response.content.decode())[0] == ("moments_cover", "done")
    assert progress_of(guide) == {"moments_cover": (1, True, "guide")} and progress_of(colleague) == {}
    assert _steps(colleague_body)[0] == ("moments_cover", "next")
    assert ledger_of(colleague) == []


def test_an_automatic_step_cannot_be_confirmed_by_tapping(brand_a, newbie, sidebar_as):
    from tasks.newbie.models import NewbieStep

    guide = newbie(brand_a)
    step = NewbieStep.objects.get(key="add_customers")

    body = sidebar_as(guide).post(f"/sidebar/newbie/steps/{step.pk}/confirm/", follow=True).content.decode()

    assert "此步骤由系统自动核验" in body and progress_of(guide) == {}


def test_the_check_button_asks_wecom_for_my_moment(brand_a, newbie, sidebar_as, sim, in_schema):
    from django.core.cache import cache

    guide = newbie(brand_a)
    sim.member(guide.wecom_userid, name=guide.name, silent=True)
    client = sidebar_as(guide)

    not_yet = client.post("/sidebar/newbie/moment-check/", follow=True).content.decode()
    sim.moment(guide.wecom_userid, "今日新品")
    too_soon = client.post("/sidebar/newbie/moment-check/", follow=True).content.decode()
    with in_schema(brand_a.schema_name):  # cache keys carry the schema the view ran in
        cache.delete(f"newbie:moment-check:{guide.pk}")
    found = client.post("/sidebar/newbie/moment-check/", follow=True).content.decode()

    assert "还没有找到您发布的朋友圈" in not_yet
    assert "刚刚核验过" in too_soon
    assert "已在企业微信找到您的朋友圈" in found and ("post_moment", "done") in _steps(found)
    assert len(sim.calls(endpoint="externalcontact/get_moment_list")) == 2


def test_a_finished_checklist_collapses_to_a_badge(brand_a, newbie, sidebar_as):
    from django.utils import timezone

    from tasks.newbie.models import NewbieProgress, NewbieStep

    guide = newbie(brand_a)
    NewbieProgress.objects.bulk_create([
        NewbieProgress(guide=guide, step=step, count=step.target, done_at=timezone.now(), completed_by="guide",
                       reward_coins=step.reward_coins, reward_credited_at=timezone.now())
        for step in NewbieStep.objects.filter(is_active=True)])

    body = sidebar_as(guide).get("/sidebar/today/").content.decode()

    assert 'data-testid="newbie-done"' in body and "newbie-checklist" not in body
    assert body.index("新手任务已完成") < body.index("Newbie done") and "+100 金币" in body
