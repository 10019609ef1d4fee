"""Mall ops edit the checklist steps in the Django admin; progress there is read-only."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops(make_user):
    def make(role):
        user = make_user(f"nb-{role}", role)
        user.is_staff = True
        user.save(update_fields=["is_staff"])
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        return client

    return make


def test_the_default_steps_are_listed_and_an_operator_edits_a_reward(ops):
    from tasks.newbie.models import NewbieStep

    client = ops("mall_operator")
    step = NewbieStep.objects.get(key="add_customers")

    listing = client.get("/admin/newbie/newbiestep/").content.decode()
    form = client.get(f"/admin/newbie/newbiestep/{step.pk}/change/").content.decode()
    saved = client.post(f"/admin/newbie/newbiestep/{step.pk}/change/", {
        "title": step.title, "title_en": step.title_en, "hint": step.hint, "evidence": step.evidence, "target": 5,
        "reward_coins": 50, "reward_exp": step.reward_exp, "position": step.position, "is_active": "on"})

    assert all(title in listing for title in ("设置朋友圈封面", "添加3位客户", "发布1条朋友圈", "完成第1个客户任务",
                                              "分享第1个专属链接"))
    assert 'name="key"' not in form  # the reward's idempotency key cannot be edited
    assert saved.status_code == 302
    step.refresh_from_db()
    assert (step.key, step.target, step.reward_coins) == ("add_customers", 5, 50)


def test_a_target_above_one_only_for_counted_steps_and_steps_are_not_deleted(ops):
    from tasks.newbie.models import NewbieStep

    client = ops("mall_admin")
    cover = NewbieStep.objects.get(key="moments_cover")

    refused = client.post(f"/admin/newbie/newbiestep/{cover.pk}/change/", {
        "title": cover.title, "title_en": cover.title_en, "hint": cover.hint, "evidence": cover.evidence,
        "target": 2, "reward_coins": 10, "reward_exp": 10, "position": 10, "is_active": "on"})
    delete = client.get(f"/admin/newbie/newbiestep/{cover.pk}/delete/")

    assert refused.status_code == 200 and "只有计数类步骤" in refused.content.decode()
    assert delete.status_code == 403
    cover.refresh_from_db()
    assert cover.target == 1


def test_an_analyst_reads_progress_and_cannot_change_steps(ops):
    from tasks.newbie.models import NewbieStep

    client = ops("mall_analyst")
    step = NewbieStep.objects.first()

    assert client.get("/admin/newbie/newbieprogress/").status_code == 200
    assert client.post(f"/admin/newbie/newbiestep/{step.pk}/change/", {"title": "x"}).status_code == 403
