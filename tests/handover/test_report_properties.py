"""Property: whatever WeCom answers, in whatever order, and whatever the manager does, a handover's report
adds up to its total and every customer is in exactly one bucket."""

from __future__ import annotations

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guides.handover import services
from guides.handover.models import Handover, HandoverItem, ItemState
from guides.handover.selectors import BUCKETS, handover_counts

pytestmark = pytest.mark.django_db

ERRCODES = [0, 40096, 40097, 40098, 40099, 40100, 40128, 40129, 40130, 40131, 41054, 84061, 60011]
OPS = st.one_of(
    st.tuples(st.just("answer"), st.lists(st.sampled_from(ERRCODES), min_size=1, max_size=8)),
    st.tuples(st.just("result"), st.lists(st.sampled_from(list(services.RESULT_STATES.values())), min_size=1,
                                          max_size=8)),
    st.tuples(st.just("assign"), st.integers(min_value=0, max_value=7)),
    st.tuples(st.just("claim"), st.just(0)),
)


class _Sink(Exception):
    pass


@pytest.fixture
def setup(brand_a, make_guide, enroll, in_schema):
    from guides.services import relationship_record

    departed = make_guide(brand_a, userid="p-departed", status="resigned")
    colleagues = [make_guide(brand_a, userid=f"p-succ{i}") for i in range(2)]
    members = []
    for i in range(8):
        member = enroll(brand_a, external_userid=f"wm-prop-{i}", corp_id="ww-prop").member
        relationship_record(guide=departed, member=member, external_userid=f"wm-prop-{i}")
        members.append(member)
    with in_schema(brand_a.schema_name):
        yield departed, colleagues


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(OPS, max_size=12))
def test_report_always_adds_up(setup, ops):
    departed, colleagues = setup
    try:
        with transaction.atomic():
            handover = services.handover_start(guide=departed, source="property")
            for op, arg in ops:
                items = list(HandoverItem.objects.filter(handover=handover).order_by("id"))
                if op == "claim":
                    services._claim_chunk(handover.pk)
                elif op == "answer":
                    on_way = [i for i in items if i.state == ItemState.SUBMITTED]
                    if on_way:
                        successor = on_way[0].successor
                        same = [i for i in on_way if i.successor_id == successor.pk]
                        services._apply_submit_answer(
                            handover, successor, {i.external_userid: i.pk for i in same},
                            [{"external_userid": i.external_userid, "errcode": code} for i, code in zip(same, arg, strict=False)])
                elif op == "result":
                    for item, state in zip(items, arg, strict=False):
                        services._items_settle(handover, [item.pk], state)
                else:
                    handover.refresh_from_db()
                    services.handover_assign(handover=handover, successor=colleagues[arg % 2],
                                             item_ids=[items[arg].pk])
                counts = handover_counts(handover_id=handover.pk)
                assert sum(counts[name] for name in BUCKETS) == counts["total"] == 8
                assert counts["needs_successor"] <= counts["waiting"]
            assert Handover.objects.get(pk=handover.pk).status == services.handover_refresh(handover_id=handover.pk)
            raise _Sink
    except _Sink:
        pass
