"""Leaderboards: real time from orders, credits and new customers; rebuilt from the database; scopes,
periods, my rank and neighbours."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from guides.services import relationship_record
from incentives import attribution, leaderboards, services
from tests.incentives.conftest import at

NOW = at(23, 15)


def _sell(guide, order_id, cents, when=NOW, *, capture):
    with capture(execute=True):
        attribution.order_paid(brand=guide.brand, order_id=order_id, amount_cents=cents, paid_at=when,
                               channel="pos", share_token=attribution.share_token_make(
                                   attribution.share_link_create(guide=guide, kind="product", target_id="SKU",
                                                                 title="t", target_url="https://s.example.com/"),
                                   at=when - dt.timedelta(minutes=5)))


def _board(guide, metric="sales", period="today", scope="brand", **kw):
    return leaderboards.board_for_guide(guide=guide, metric=metric, period=period, scope=scope, moment=NOW, **kw)


def _scores(board):
    return [(row.guide_id, row.score) for row in board.top]


def test_sales_move_every_scope_and_period_in_real_time(brand_a, brand_b, make_guide, clean_redis,
                                                        django_capture_on_commit_callbacks):
    ana, bo, nick = make_guide(brand_a, name="Ana"), make_guide(brand_a, name="Bo"), make_guide(brand_b, name="Nick")
    _sell(ana, "A1", 30000, capture=django_capture_on_commit_callbacks)
    _sell(bo, "B1", 50000, capture=django_capture_on_commit_callbacks)
    _sell(nick, "N1", 40000, capture=django_capture_on_commit_callbacks)

    assert _scores(_board(ana)) == [(bo.pk, 50000), (ana.pk, 30000)]  # lancome only
    assert _scores(_board(nick)) == [(nick.pk, 40000)]  # nike never sees lancome's guides
    assert _scores(_board(ana, scope="mall")) == [(bo.pk, 50000), (nick.pk, 40000), (ana.pk, 30000)]
    assert _scores(_board(ana, scope="store")) == _scores(_board(ana, scope="mall"))  # one store in the test
    assert _scores(_board(ana, scope="counter")) == [(bo.pk, 50000), (ana.pk, 30000)]
    for period in ("week", "month"):
        assert _scores(_board(ana, period=period)) == [(bo.pk, 50000), (ana.pk, 30000)]


def test_a_refund_takes_the_sale_off_the_board(brand_a, make_guide, clean_redis, django_capture_on_commit_callbacks):
    ana = make_guide(brand_a, name="Ana")
    _sell(ana, "A1", 30000, capture=django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        attribution.order_refunded(brand=brand_a, order_id="A1")
    assert _scores(_board(ana)) == [(ana.pk, 0)]
    assert leaderboards.leaderboards_rebuild(moment=NOW, metrics=["sales"]) == 0  # nothing paid: no boards


def test_rebuild_from_the_database_equals_the_real_time_boards(brand_a, brand_b, make_guide, enroll, clean_redis,
                                                                django_capture_on_commit_callbacks):
    ana, bo, nick = make_guide(brand_a, name="Ana"), make_guide(brand_a, name="Bo"), make_guide(brand_b, name="Nick")
    _sell(ana, "A1", 30000, capture=django_capture_on_commit_callbacks)
    _sell(nick, "N1", 40000, capture=django_capture_on_commit_callbacks)
    _sell(ana, "A0", 70000, when=at(2, 15), capture=django_capture_on_commit_callbacks)  # earlier this month
    with django_capture_on_commit_callbacks(execute=True):
        member = enroll(brand_a, unionid="u-lb-1").member
        relationship_record(guide=bo, member=member, added_at=NOW)
        services.reward_credit(guide_id=bo.pk, coins=15, exp=5, source="guide_task", source_id="lancome:1")
    keys = lambda: sorted(k.decode() for k in clean_redis.scan_iter("scrm:lb:*"))  # noqa: E731
    live = {key: clean_redis.zrange(key, 0, -1, withscores=True) for key in keys()}

    clean_redis.flushdb()
    leaderboards.leaderboards_rebuild(moment=NOW, metrics=["sales", "customers"])  # event times
    leaderboards.leaderboards_rebuild(moment=timezone.now(), metrics=["coins", "tasks"])  # credit times

    # the boards of Nov 2nd (its day and week) were not asked for
    expected = {key: value for key, value in live.items() if ":d20261102:" not in key and ":w2026-45:" not in key}
    rebuilt = {key: clean_redis.zrange(key, 0, -1, withscores=True) for key in keys()}
    assert rebuilt == expected
    assert _scores(_board(ana, period="month")) == [(ana.pk, 100000)]
    assert _scores(_board(bo, metric="customers")) == [(bo.pk, 1)]
    now = dict(moment=timezone.now())
    assert _scores(leaderboards.board_for_guide(guide=bo, metric="coins", period="today", scope="brand", **now)) == [
        (ana.pk, 100), (bo.pk, 15)]  # ana's coins came from her ¥1,000 of sales
    assert _scores(leaderboards.board_for_guide(guide=bo, metric="tasks", period="today", scope="brand", **now)) == [
        (bo.pk, 1)]


def test_rebuild_replaces_a_wrong_board(brand_a, make_guide, clean_redis, django_capture_on_commit_callbacks):
    ana = make_guide(brand_a, name="Ana")
    _sell(ana, "A1", 30000, capture=django_capture_on_commit_callbacks)
    key = leaderboards.board_key("sales", "today", NOW, "brand", brand_a.pk)
    clean_redis.zadd(key, {"999999": 1e9})  # a ghost

    leaderboards.leaderboards_rebuild(moment=NOW, metrics=["sales"], periods=["today"])

    assert clean_redis.zrange(key, 0, -1, withscores=True) == [(str(ana.pk).encode(), 30000.0)]


def test_my_rank_and_neighbours(brand_a, make_guide, clean_redis):
    guides = [make_guide(brand_a, name=f"G{i:02d}") for i in range(15)]
    for i, guide in enumerate(guides):  # G00 sells least
        leaderboards.bump(metric="sales", guide_id=guide.pk, amount=(i + 1) * 1000, at=NOW)
    me = guides[4]  # 11th of 15

    board = _board(me, top=3, around=2)

    assert [row.name for row in board.top] == ["G14", "G13", "G12"]
    assert (board.me.rank, board.size) == (11, 15)
    assert [(row.rank, row.name) for row in board.neighbours] == [(9, "G06"), (10, "G05"), (11, "G04"),
                                                                    (12, "G03"), (13, "G02")]


def test_the_leader_a_guide_not_on_the_board_and_an_empty_board(brand_a, make_guide, clean_redis):
    first, second, newcomer = (make_guide(brand_a, name=n) for n in ("First", "Second", "New"))
    assert _board(newcomer) == leaderboards.Board("sales", "today", "brand", [], None, [], 0)
    leaderboards.bump(metric="sales", guide_id=first.pk, amount=2500, at=NOW)
    leaderboards.bump(metric="sales", guide_id=second.pk, amount=1200, at=NOW)

    leader = _board(first, around=2)
    assert (leader.me.rank, leader.me.score, leader.size) == (1, 2500.0, 2)
    assert [(row.rank, row.name, row.is_me) for row in leader.neighbours] == [(1, "First", True), (2, "Second", False)]

    outsider = _board(newcomer)
    assert (outsider.me, outsider.neighbours, outsider.size) == (None, [], 2)
    assert [(row.rank, row.name, row.score) for row in outsider.top] == [(1, "First", 2500.0), (2, "Second", 1200.0)]


@pytest.mark.parametrize("kwargs, field", [({"metric": "likes"}, "metric"), ({"period": "year"}, "period"),
                                           ({"scope": "city"}, "scope")])
def test_unknown_boards_are_refused(brand_a, make_guide, kwargs, field):
    from scrm.errors import AppError

    with pytest.raises(AppError) as error:
        _board(make_guide(brand_a), **kwargs)
    assert error.value.code == "invalid_leaderboard" and field in error.value.fields


def test_period_keys_follow_shanghai_time():
    late_utc = dt.datetime(2026, 11, 22, 16, 30, tzinfo=dt.UTC)  # 00:30 on Monday 23rd in Shanghai
    assert [leaderboards.period_key(p, late_utc) for p in ("today", "week", "month")] == [
        "d20261123", "w2026-48", "m202611"]
    start, end = leaderboards.period_bounds("week", late_utc)
    assert (start.isoformat(), end.isoformat()) == ("2026-11-23T00:00:00+08:00", "2026-11-30T00:00:00+08:00")


def test_rebuild_command(brand_a, make_guide, clean_redis, capsys, django_capture_on_commit_callbacks):
    _sell(make_guide(brand_a), "A1", 30000, capture=django_capture_on_commit_callbacks)
    clean_redis.flushdb()

    call_command("leaderboards_rebuild", "--day", "2026-11-23", "--balances")

    out = capsys.readouterr().out
    assert "balances: 0 corrected" in out and "boards rebuilt for 2026-11-23" in out
    assert clean_redis.exists(leaderboards.board_key("sales", "today", NOW, "mall", "all"))
    with pytest.raises(CommandError, match="--day"):
        call_command("leaderboards_rebuild", "--day", "23/11/2026")


def test_spending_coins_in_the_shop_does_not_lower_the_coins_board(brand_a, make_guide, clean_redis,
                                                                    django_capture_on_commit_callbacks):
    from incentives import shop
    from incentives.models import Reward

    ana = make_guide(brand_a, name="Ana")
    reward = Reward.objects.create(name="电影票", coin_price=100, stock=1)
    with django_capture_on_commit_callbacks(execute=True):
        services.reward_credit(guide_id=ana.pk, coins=300, exp=0, source="guide_task", source_id="lancome:1")
        shop.reward_redeem(guide=ana, reward_id=reward.pk)
    now = timezone.now()
    live = leaderboards.board_for_guide(guide=ana, metric="coins", period="today", scope="brand", moment=now)

    leaderboards.leaderboards_rebuild(moment=now, metrics=["coins"], periods=["today"])
    rebuilt = leaderboards.board_for_guide(guide=ana, metric="coins", period="today", scope="brand", moment=now)

    assert _scores(live) == _scores(rebuilt) == [(ana.pk, 300)]
