"""Property-based tests of the points ledger against a simple reference model."""

import datetime as dt
from itertools import count

from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from members import services
from members.models import Member, PointsEntry
from scrm.errors import AppError

_keys = count()

operation = st.one_of(
    st.tuples(st.just("earn"), st.integers(1, 500), st.integers(-3, 40)),  # days until the lot expires
    st.tuples(st.just("redeem"), st.integers(1, 800), st.just(0)),
    st.tuples(st.just("adjust"), st.integers(-300, 300).filter(bool), st.just(0)),
    st.tuples(st.just("expire"), st.just(0), st.just(0)),
)


def _lot_expiry(now, days, index):
    # distinct expiries so "oldest first" has one right answer
    return now + dt.timedelta(days=days, seconds=index)


def _apply(member, op, amount, days, now, index):
    key = f"k{next(_keys)}"
    if op == "earn":
        services.points_earn(member=member, amount=amount, idempotency_key=key,
                             expires_at=_lot_expiry(now, days, index))
    elif op == "redeem":
        services.points_redeem(member=member, amount=amount, idempotency_key=key)
    elif op == "adjust":
        services.points_adjust(member=member, amount=amount, idempotency_key=key, reason="test", actor="test")
    else:
        services.points_expire_due(now=now)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(operation, min_size=1, max_size=12))
def test_ledger_invariants(db, ops):
    """Balance = sum of the ledger = what is left in the lots; never negative; oldest lots go first."""
    member = Member.objects.create(code=services.member_code_new())
    now = timezone.now()
    lots: list[list] = []  # reference model: [expires_at, remaining], consumed in expiry order
    for index, (op, amount, days) in enumerate(ops):
        open_lots = sorted((lot for lot in lots if lot[1] > 0 and lot[0] > timezone.now()), key=lambda lot: lot[0])
        available = sum(lot[1] for lot in open_lots)
        rows_before = PointsEntry.objects.filter(member=member).count()
        try:
            _apply(member, op, amount, days, now, index)
        except AppError as error:
            assert error.code == "insufficient_points"
            assert -amount if op == "adjust" else amount > available
            assert PointsEntry.objects.filter(member=member).count() == rows_before
            continue
        if op == "earn" or (op == "adjust" and amount > 0):
            expires = _lot_expiry(now, days, index) if op == "earn" else services.default_expiry(timezone.now())
            lots.append([expires, amount])
        elif op in ("redeem", "adjust"):
            left = abs(amount)
            for lot in open_lots:
                take = min(left, lot[1])
                lot[1] -= take
                left -= take
        else:
            for lot in lots:
                if lot[0] <= now:
                    lot[1] = 0
        member.refresh_from_db()
        ledger = list(PointsEntry.objects.filter(member=member))
        assert member.points_balance == sum(e.amount for e in ledger) >= 0
        assert member.points_balance == sum(e.remaining for e in ledger)
        actual = sorted(e.remaining for e in ledger if e.amount > 0)
        assert actual == sorted(lot[1] for lot in lots)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amount=st.integers(1, 10_000), attempt=st.integers(1, 20_000))
def test_redeem_never_exceeds_available(db, amount, attempt):
    member = Member.objects.create(code=services.member_code_new())
    services.points_earn(member=member, amount=amount, idempotency_key=f"e{next(_keys)}")
    try:
        services.points_redeem(member=member, amount=attempt, idempotency_key=f"r{next(_keys)}")
    except AppError as error:
        assert error.code == "insufficient_points" and attempt > amount
    member.refresh_from_db()
    assert member.points_balance == max(0, amount - attempt) if attempt <= amount else member.points_balance == amount


def test_expiry_takes_the_oldest_lots_first(db):
    member = Member.objects.create(code=services.member_code_new())
    now = timezone.now()
    soon = services.points_earn(member=member, amount=100, idempotency_key="soon",
                                expires_at=now + dt.timedelta(days=1))
    later = services.points_earn(member=member, amount=100, idempotency_key="later",
                                 expires_at=now + dt.timedelta(days=30))
    services.points_redeem(member=member, amount=150, idempotency_key="spend")
    soon.refresh_from_db()
    later.refresh_from_db()
    assert (soon.remaining, later.remaining) == (0, 50)
    services.points_expire_due(now=now + dt.timedelta(days=31))
    services.points_expire_due(now=now + dt.timedelta(days=31))  # twice: nothing more happens
    member.refresh_from_db()
    assert member.points_balance == 0
    assert PointsEntry.objects.filter(member=member, kind="expire").count() == 1


def test_tier_drops_when_points_leave_the_window(db):
    member = Member.objects.create(code=services.member_code_new())
    services.points_earn(member=member, amount=2500, idempotency_key="big")
    member.refresh_from_db()
    assert member.tier == "silver"
    PointsEntry.objects.filter(member=member).update(created_at=timezone.now() - dt.timedelta(days=366))
    changed = services.tiers_reevaluate_window()
    again = services.tiers_reevaluate_window()
    member.refresh_from_db()
    assert (changed, again, member.tier) == (1, 0, "normal")
    assert member.tier_changes.order_by("-id").first().is_upgrade is False
