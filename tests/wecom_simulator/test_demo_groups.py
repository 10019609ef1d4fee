"""demo_simulator gives the first two guides of each brand a customer group: made in the simulator, read back
through the platform's group sync, tagged, with today's group tasks issued; a second run adds nothing."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django_tenants.utils import schema_context

pytestmark = pytest.mark.django_db


@pytest.fixture
def sim(settings):
    from scrm.health import _redis
    from wecom.simulator import SimConfig, start_in_thread

    base_url, server = start_in_thread(SimConfig(
        port=0, callback_url="", corp_id=settings.WECOM_CORP_ID, corp_secret=settings.WECOM_SECRET,
        agent_id=settings.WECOM_AGENT_ID, agent_secret=settings.WECOM_AGENT_SECRET, token=settings.WECOM_TOKEN,
        aes_key=settings.WECOM_AES_KEY))
    settings.WECOM_API_BASE = server.api_base_url
    settings.DEMO_MODE = True
    for key in _redis().scan_iter("scrm:wecom:*"):
        _redis().delete(key)
    yield server
    server.stop()


def test_demo_guides_get_a_tagged_group_with_tasks_once(sim, settings, brand_a, make_guide, enroll):
    from guides.brand.models import CustomerGroup
    from guides.services import relationship_record
    from tasks.community.brand.models import GroupTask

    first, second, third = (make_guide(brand_a, name=n) for n in ("甲", "乙", "丙"))
    for n in range(6):
        guide = (first, second)[n % 2]
        member = enroll(brand_a, guide=guide, external_userid=f"wm-demo-{n}", corp_id=settings.WECOM_CORP_ID).member
        relationship_record(guide=guide, member=member, external_userid=f"wm-demo-{n}")

    call_command("demo_simulator", stdout=None)
    call_command("demo_simulator", stdout=None)  # nothing more

    with schema_context(brand_a.schema_name):
        groups = list(CustomerGroup.objects.order_by("id"))
        assert [g.owner_id for g in groups] == [first.pk, second.pk]  # the first two guides only, once
        assert all(g.customer_count == 3 and g.interest_tags and g.store_id for g in groups)
        assert GroupTask.objects.filter(group__in=groups).exists()
        assert not CustomerGroup.objects.filter(owner=third).exists()
