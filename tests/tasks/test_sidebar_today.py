"""Step 4: the sidebar "today" page — the guide's own open tasks, most urgent first, ready to send, and done."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

pytestmark = pytest.mark.django_db


def test_today_lists_only_my_open_tasks_most_urgent_first_with_the_script_personalised(
        brand_a, make_guide, customer, sidebar_as):
    from tasks.engine import generate

    today = timezone.localdate()
    guide, colleague = make_guide(brand_a, name="小美"), make_guide(brand_a, name="同事")
    customer(brand_a, guide, day0=today - dt.timedelta(days=7), name="周七")
    customer(brand_a, guide, day0=today - dt.timedelta(days=1), name="昨一")  # day 0 caught up, due today
    customer(brand_a, colleague, day0=today, name="别人的客户")
    generate(brand=brand_a, day=today)

    body = sidebar_as(guide).get("/sidebar/today/").content.decode()

    names = re.findall(r'<a class="nm" href="[^"]+">([^<]+)</a>', body)
    assert names == ["昨一", "周七"]
    assert "别人的客户" not in body
    assert "周七您好，入会一周啦" in body and "{name}" not in body
    assert "今天截止 Due today" in body and "补发 Late" in body


def test_done_with_a_note_completes_my_task_and_a_colleagues_task_is_not_mine(
        brand_a, make_guide, customer, sidebar_as):
    from tasks.engine import generate
    from tasks.models import GuideTask

    today = timezone.localdate()
    guide, colleague = make_guide(brand_a), make_guide(brand_a)
    member, _ = customer(brand_a, guide, day0=today, name="王芳")
    generate(brand=brand_a, day=today)
    with schema_context(brand_a.schema_name):
        task = GuideTask.objects.get(member=member)

    refused = sidebar_as(colleague).post(f"/sidebar/tasks/{task.pk}/done/", {"note": "x", "next": "/sidebar/today/"},
                                         follow=True)
    done = sidebar_as(guide).post(f"/sidebar/tasks/{task.pk}/done/", {"note": "已发欢迎礼", "next": "/sidebar/today/"},
                                  follow=True)

    with schema_context(brand_a.schema_name):
        task.refresh_from_db()
    assert "任务不存在" in refused.content.decode()
    assert (task.state, task.note, task.completed_by) == ("done", "已发欢迎礼", "guide")
    assert "已完成" in done.content.decode() and 'data-testid="no-tasks"' in done.content.decode()


def test_the_customer_page_shows_that_customers_open_tasks_with_their_wecom_ids(
        brand_a, make_guide, enroll, sidebar_as, settings):
    from guides.services import relationship_record
    from tasks.engine import generate

    today = timezone.localdate()
    guide = make_guide(brand_a)
    member = enroll(brand_a, guide=guide, external_userid="wm-task-1", corp_id=settings.WECOM_CORP_ID).member
    relationship_record(guide=guide, member=member, external_userid="wm-task-1", added_at=timezone.now())
    generate(brand=brand_a, day=today)

    body = sidebar_as(guide).get(f"/sidebar/customers/{member.code}/").content.decode()

    assert 'data-testid="customer-tasks"' in body and "欢迎礼 + 邀请入群" in body
    assert 'data-euids="[&quot;wm-task-1&quot;]"' in body
