"""The coins/experience ledger: one entry per source event, balances equal the ledger, ranks."""

import datetime as dt
import threading

import pytest
from django.db import connections
from django_tenants.utils import schema_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incentives import selectors, services
from incentives.models import GuideBalance, RankRule, RewardEntry
from scrm.errors import AppError
from tests.live import committed

# a source event: (guide index, source, source id); its amounts are what the first delivery carried
event = st.tuples(st.integers(0, 2), st.sampled_from(["task", "order_paid", "order_refunded"]), st.integers(0, 5),
                  st.integers(-50, 200), st.integers(0, 300))


def _sums(guide):
    entries = list(RewardEntry.objects.filter(guide=guide))
    return sum(e.coins for e in entries), sum(e.exp for e in entries), len(entries)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(event, min_size=1, max_size=25))
def test_balance_is_the_sum_of_one_entry_per_source_event(brand_a, make_guide, events):
    """Random deliveries with duplicates: the first delivery of an event credits, repeats do nothing."""
    guides = [make_guide(brand_a) for _ in range(3)]
    model: dict[tuple, tuple[int, int]] = {}
    for index, source, source_id, coins, exp in events:
        if coins == 0 and exp == 0:
            continue
        key = (index, source, str(source_id))
        credited = services.reward_credit(guide_id=guides[index].pk, coins=coins, exp=exp, source=source,
                                          source_id=str(source_id), note="prop")
        assert credited is (key not in model)
        model.setdefault(key, (coins, exp))
    for index, guide in enumerate(guides):
        expected = [amounts for key, amounts in model.items() if key[0] == index]
        coins, exp, n_entries = _sums(guide)
        assert n_entries == len(expected)
        assert (coins, exp) == (sum(c for c, _ in expected), sum(e for _, e in expected))
        balance = GuideBalance.objects.filter(guide=guide).first()
        assert (balance.coins, balance.exp) == (coins, exp) if expected else balance is None
    # the stored balances were right, so a rebuild corrects nothing
    assert services.balances_rebuild(guide_ids=[g.pk for g in guides]) == 0


def test_rebuild_restores_balances_from_the_ledger(brand_a, make_guide):
    guide, other = make_guide(brand_a), make_guide(brand_a)
    services.reward_credit(guide_id=guide.pk, coins=10, exp=5, source="task", source_id="1")
    services.reward_credit(guide_id=guide.pk, coins=-3, exp=0, source="order_refunded", source_id="A1")
    services.reward_credit(guide_id=other.pk, coins=7, exp=7, source="task", source_id="1")
    GuideBalance.objects.filter(guide=guide).update(coins=999, exp=999)
    GuideBalance.objects.filter(guide=other).update(coins=7, exp=7)

    assert services.balances_rebuild() == 1

    assert GuideBalance.objects.values_list("coins", "exp").get(guide=guide) == (7, 5)
    assert GuideBalance.objects.values_list("coins", "exp").get(guide=other) == (7, 7)


def test_rebuild_zeroes_a_balance_without_entries(brand_a, make_guide):
    guide = make_guide(brand_a)
    GuideBalance.objects.create(guide=guide, coins=50, exp=50)

    assert services.balances_rebuild(guide_ids=[guide.pk]) == 1

    assert GuideBalance.objects.values_list("coins", "exp").get(guide=guide) == (0, 0)


def test_the_same_source_id_for_two_guides_is_two_events(brand_a, brand_b, make_guide):
    """Task ids repeat across brand schemas, so the guide is part of the key."""
    guide_a, guide_b = make_guide(brand_a), make_guide(brand_b)

    assert services.reward_credit(guide_id=guide_a.pk, coins=5, exp=5, source="task", source_id="42")
    assert services.reward_credit(guide_id=guide_b.pk, coins=5, exp=5, source="task", source_id="42")


def test_credit_from_inside_a_brand_schema_writes_the_mall_ledger(brand_a, make_guide):
    guide = make_guide(brand_a)
    with schema_context(brand_a.schema_name):
        assert services.reward_credit(guide_id=guide.pk, coins=3, exp=4, source="task", source_id="7")
    assert GuideBalance.objects.values_list("coins", "exp").get(guide=guide) == (3, 4)


@pytest.mark.parametrize("kwargs, field", [
    (dict(coins=0, exp=0), "coins"),
    (dict(coins="5", exp=1), "coins"),
    (dict(coins=True, exp=1), "coins"),
    (dict(source=""), "source"),
    (dict(source="x" * 41), "source"),
    (dict(source_id=""), "source_id"),
    (dict(source_id="x" * 121), "source_id"),
])
def test_bad_credits_are_refused_with_a_code(brand_a, make_guide, kwargs, field):
    guide = make_guide(brand_a)
    args = dict(guide_id=guide.pk, coins=1, exp=1, source="task", source_id="1") | kwargs
    with pytest.raises(AppError) as error:
        services.reward_credit(**args)
    assert error.value.code == "invalid_reward"
    assert field in error.value.fields
    assert not RewardEntry.objects.filter(guide=guide).exists()


def test_unknown_guide_is_404(db):
    with pytest.raises(AppError) as error:
        services.reward_credit(guide_id=987654321, coins=1, exp=1, source="task", source_id="1")
    assert (error.value.code, error.value.status) == ("guide_not_found", 404)


def test_default_rank_ladder_and_standing(brand_a, make_guide):
    assert list(RankRule.objects.values_list("code", flat=True)) == [
        "bronze", "silver", "gold", "platinum", "diamond", "star", "king"]
    guide = make_guide(brand_a)
    assert selectors.guide_standing(guide_id=guide.pk).rank_code == "bronze"
    services.reward_credit(guide_id=guide.pk, coins=20, exp=2100, source="task", source_id="1")
    standing = selectors.guide_standing(guide_id=guide.pk)
    assert (standing.coins, standing.exp, standing.rank_code) == (20, 2100, "gold")
    assert standing.exp_to_next == 5000 - 2100
    RankRule.objects.filter(code="gold").update(min_exp=3000)  # the mall raises a threshold
    assert selectors.guide_standing(guide_id=guide.pk).rank_code == "silver"


def _committed_guide():
    from guides.models import Guide
    from tenants.models import Brand, Counter, Store

    store = Store.objects.create(code="S-INC", name="并发店", city="上海", address="-", latitude="31.2",
                                 longitude="121.4")
    brand = Brand.objects.get(slug="lancome")
    counter = Counter.objects.create(brand=brand, store=store, code="C-INC", name="并发专柜")
    return Guide.objects.create(wecom_userid="g-inc-race", name="并发", brand=brand, counter=counter,
                                hired_on=dt.date(2025, 1, 1))


def test_concurrent_duplicate_deliveries_credit_once(django_db_setup, django_db_blocker):
    """Eight workers deliver the same event at the same moment on their own connections (committed)."""
    with committed(django_db_blocker):
        guide = _committed_guide()
        n = 8
        barrier = threading.Barrier(n)
        results, errors = [], []

        def deliver(i):
            try:
                barrier.wait(timeout=10)
                results.append(services.reward_credit(guide_id=guide.pk, coins=10, exp=20, source="order_paid",
                                                      source_id="PAY-1", note=f"worker {i}"))
                # distinct events at the same time all land
                services.reward_credit(guide_id=guide.pk, coins=1, exp=1, source="task", source_id=str(i))
            except Exception as exc:  # surfaced below
                errors.append(exc)
            finally:
                connections["default"].close()

        threads = [threading.Thread(target=deliver, args=(i,)) for i in range(n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

        assert errors == []
        assert sorted(results) == [False] * (n - 1) + [True]
        assert RewardEntry.objects.filter(guide=guide).count() == 1 + n
        try:
            assert GuideBalance.objects.values_list("coins", "exp").get(guide=guide) == (10 + n, 20 + n)
        finally:
            GuideBalance.objects.filter(guide=guide).delete()  # keyed by guide: committed() cleans by id
