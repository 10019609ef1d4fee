"""Per-channel statistics by day (Asia/Shanghai): adds, deletes, net, computed set-based from the
relationships, and the nightly snapshot that remembers what a later re-add overwrote."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from guides.services import relationship_end, relationship_record
from wecom import livecodes
from wecom.brand.models import ChannelDailyStat

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
TODAY = dt.date(2026, 5, 20)


def at(day_offset: int, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(TODAY + dt.timedelta(days=day_offset), dt.time(hour), tzinfo=SH)


@pytest.fixture
def add(brand_a, make_guide, enroll):
    guide = make_guide(brand_a)
    counter = iter(range(1, 10_000))

    def make(channel: str, added: dt.datetime, ended: dt.datetime | None = None, guide=guide):
        member = enroll(brand_a, external_userid=f"wm-stat-{next(counter)}").member
        relationship_record(guide=guide, member=member, channel=channel, state=channel, added_at=added)
        if ended:
            relationship_end(guide=guide, member_id=member.pk, reason="deleted_by_customer", at=ended)
        return member

    make.guide = guide
    return make


def test_adds_and_deletes_count_on_their_own_shanghai_day(add, brand_a, in_schema):
    add("poster", at(0))
    add("poster", at(-1, hour=23))  # 23:00 Shanghai is 15:00 UTC: still yesterday
    add("poster", at(-1, hour=0), ended=at(0, hour=1))  # 00:00 Shanghai is the day before in UTC
    add("entrance", at(-2), ended=at(-1))
    add("poster", at(-40))  # outside the window

    with in_schema(brand_a.schema_name):
        stats = livecodes.channel_stats_by_day(days=30, today=TODAY)

    assert [(s.day, s.channel, s.adds, s.deletes, s.net) for s in stats] == [
        (TODAY, "poster", 1, 1, 0),
        (TODAY - dt.timedelta(days=1), "entrance", 0, 1, -1),
        (TODAY - dt.timedelta(days=1), "poster", 2, 0, 2),
        (TODAY - dt.timedelta(days=2), "entrance", 1, 0, 1),
    ]


def test_daily_table_has_every_day_and_channel_totals(add, brand_a, in_schema):
    add("poster", at(0))
    add("entrance", at(-2), ended=at(-1))

    with in_schema(brand_a.schema_name):
        table = livecodes.channel_daily_table(livecodes.channel_stats_by_day(days=7, today=TODAY), days=7,
                                              today=TODAY)

    assert table["channels"] == ["entrance", "poster"]
    assert [row["day"] for row in table["rows"]] == [TODAY - dt.timedelta(days=n) for n in range(7)]
    assert [(row["adds"], row["deletes"], row["net"]) for row in table["rows"][:3]] == [(1, 0, 1), (0, 1, -1),
                                                                                      (1, 0, 1)]
    assert table["totals"] == [(1, 1, 0), (1, 0, 1)]
    assert table["total"] == (2, 1, 1)


def test_snapshot_keeps_an_add_that_a_later_re_add_overwrote(add, brand_a, in_schema):
    member = add("poster", at(-3), ended=at(-2))
    with in_schema(brand_a.schema_name):
        written = livecodes.channel_stats_refresh(days=5, today=TODAY)
        again = livecodes.channel_stats_refresh(days=5, today=TODAY)
        snapshot = sorted(ChannelDailyStat.objects.values_list("day", "channel", "adds", "deletes"))
    relationship_record(guide=add.guide, member=member, channel="entrance", state="entrance", added_at=at(0))

    with in_schema(brand_a.schema_name):
        stats = livecodes.channel_stats_by_day(days=7, today=TODAY)

    assert (written, again) == (2, 2)  # one row per day and channel, upserted, not duplicated
    assert snapshot == [(TODAY - dt.timedelta(days=3), "poster", 1, 0), (TODAY - dt.timedelta(days=2), "poster", 0, 1)]
    assert [(s.day, s.channel, s.adds, s.deletes) for s in stats] == [
        (TODAY, "entrance", 1, 0),
        (TODAY - dt.timedelta(days=2), "poster", 0, 1),
        (TODAY - dt.timedelta(days=3), "poster", 1, 0),
    ]


def test_a_live_codes_totals_count_only_its_guide_and_state(add, brand_a, make_guide, in_schema):
    from wecom.brand.models import LiveCode

    other = make_guide(brand_a, name="另一位导购")
    add("poster", at(0))
    add("poster", at(-1), ended=at(0))
    add("poster", at(0), guide=other)
    with in_schema(brand_a.schema_name):
        mine = LiveCode.objects.create(guide=add.guide, state="poster", name="海报", config_id="cfg-mine")
        theirs = LiveCode.objects.create(guide=other, state="poster", name="海报", config_id="cfg-theirs")
        totals = livecodes.livecode_totals([mine, theirs])

    assert totals == {mine.pk: {"adds": 2, "active": 1, "deletes": 1, "net": 1},
                      theirs.pk: {"adds": 1, "active": 1, "deletes": 0, "net": 1}}
