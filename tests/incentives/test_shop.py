"""The rewards shop: coins and stock taken on request, approval and fulfilment, rejection gives back."""

from __future__ import annotations

import pytest

from incentives import services, shop
from incentives.models import GuideBalance, Redemption, Reward, RewardEntry
from scrm.errors import AppError


@pytest.fixture
def rich(brand_a, make_guide):
    guide = make_guide(brand_a, name="陈小美")
    services.reward_credit(guide_id=guide.pk, coins=500, exp=0, source="guide_task", source_id="lancome:1")
    return guide


def _coins(guide) -> int:
    return GuideBalance.objects.get(guide=guide).coins


def test_redeem_takes_coins_and_stock_then_approve_and_fulfil(rich, brand_a):
    reward = Reward.objects.create(name="电影票 Movie tickets", coin_price=300, stock=2)

    redemption = shop.reward_redeem(guide=rich, reward_id=reward.pk)
    shop.redemption_advance(redemption_id=redemption.pk, action="approve", brand_id=None, actor="user:1")
    done = shop.redemption_advance(redemption_id=redemption.pk, action="fulfil", brand_id=None, actor="user:1")

    assert (_coins(rich), Reward.objects.get(pk=reward.pk).stock) == (200, 1)
    assert (done.state, done.decided_by, done.fulfilled_at is not None) == ("fulfilled", "user:1", True)
    assert RewardEntry.objects.filter(guide=rich, source="redemption", coins=-300).count() == 1
    assert services.balances_rebuild(guide_ids=[rich.pk]) == 0  # the balance is still the ledger's sum


def test_reject_gives_coins_and_stock_back(rich):
    reward = Reward.objects.create(name="电影票", coin_price=300, stock=1)
    redemption = shop.reward_redeem(guide=rich, reward_id=reward.pk)

    shop.redemption_advance(redemption_id=redemption.pk, action="reject", brand_id=None, actor="user:1", note="缺货")
    again = shop.redemption_advance(redemption_id=redemption.pk, action="reject", brand_id=None, actor="user:1")

    assert again.state == "rejected"
    assert (_coins(rich), Reward.objects.get(pk=reward.pk).stock) == (500, 1)


@pytest.mark.parametrize("price, stock, code", [(600, 5, "insufficient_coins"), (100, 0, "out_of_stock")])
def test_redeem_refusals_write_nothing(rich, price, stock, code):
    reward = Reward.objects.create(name="礼品", coin_price=price, stock=stock)
    with pytest.raises(AppError) as error:
        shop.reward_redeem(guide=rich, reward_id=reward.pk)
    assert (error.value.code, error.value.status) == (code, 409)
    assert (_coins(rich), Redemption.objects.count(), Reward.objects.get(pk=reward.pk).stock) == (500, 0, stock)


def test_brands_rewards_are_for_their_own_guides_and_decided_by_the_brand(rich, brand_a, brand_b, make_guide):
    nike_reward = Reward.objects.create(brand=brand_b, name="Nike 球鞋", coin_price=100, stock=3)
    lancome_reward = Reward.objects.create(brand=brand_a, name="兰蔻小样", coin_price=100, stock=3)

    with pytest.raises(AppError) as error:
        shop.reward_redeem(guide=rich, reward_id=nike_reward.pk)
    redemption = shop.reward_redeem(guide=rich, reward_id=lancome_reward.pk)

    assert error.value.code == "reward_not_found"
    for outsider in (brand_b.pk, None):  # nike, and the mall, cannot decide lancome's redemption
        with pytest.raises(AppError) as refused:
            shop.redemption_advance(redemption_id=redemption.pk, action="approve", brand_id=outsider, actor="x")
        assert refused.value.code == "redemption_not_found"
    assert shop.redemption_advance(redemption_id=redemption.pk, action="approve", brand_id=brand_a.pk,
                                   actor="user:9").state == "approved"


@pytest.mark.parametrize("action", ["fulfil", "teleport"])
def test_invalid_transitions(rich, action):
    reward = Reward.objects.create(name="礼品", coin_price=100, stock=3)
    redemption = shop.reward_redeem(guide=rich, reward_id=reward.pk)
    with pytest.raises(AppError) as error:
        shop.redemption_advance(redemption_id=redemption.pk, action=action, brand_id=None, actor="x")
    assert error.value.code == {"fulfil": "invalid_state", "teleport": "invalid_action"}[action]


def test_sidebar_shop_redeems(rich, sidebar_as):
    reward = Reward.objects.create(name="电影票 Movie tickets", coin_price=300, stock=2)
    client = sidebar_as(rich)

    page = client.get("/sidebar/rewards/").content.decode()
    after = client.post(f"/sidebar/rewards/{reward.pk}/redeem/", follow=True).content.decode()

    assert "电影票 Movie tickets" in page and 'data-testid="shop-coins">500<' in page
    assert 'data-testid="shop-coins">200<' in after and "待审批 Pending" in after
