"""Services for the guides' rewards shop (奖品兑换): redeem coins for a gift or benefit, then the
mall (its own rewards) or the brand (the brand's rewards) approves, fulfils or rejects."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from guides.models import Guide
from scrm.errors import AppError, Conflict, NotFound
from tenants.services import audit

from .models import GuideBalance, Redemption, RedemptionState, Reward
from .services import reward_credit


def rewards_for_guide(guide: Guide):
    """What the guide may redeem: the mall's rewards and their own brand's, in stock and on sale."""
    return Reward.objects.filter(Q(brand__isnull=True) | Q(brand_id=guide.brand_id), is_active=True)


def reward_redeem(*, guide: Guide, reward_id: int) -> Redemption:
    """Take the coins and one unit of stock now, and ask for approval. Refused without enough of either."""
    with transaction.atomic():
        reward = rewards_for_guide(guide).filter(pk=reward_id).first()
        if reward is None:  # another brand's reward answers like a missing one
            raise NotFound("No such reward. 奖品不存在。", code="reward_not_found")
        # the guide's balance row is the lock: two redemptions at once cannot both spend the same coins
        balance = GuideBalance.objects.select_for_update().filter(guide=guide).first()
        have = balance.coins if balance else 0
        if have < reward.coin_price:
            raise Conflict(f"Not enough coins ({have} of {reward.coin_price}). 金币不足。", code="insufficient_coins",
                           fields={"coins": [f"You have {have}."]})
        if not Reward.objects.filter(pk=reward.pk, stock__gt=0).update(stock=F("stock") - 1):
            raise Conflict("Out of stock. 库存不足。", code="out_of_stock")
        redemption = Redemption.objects.create(guide=guide, reward=reward, brand_id=reward.brand_id,
                                               coins=reward.coin_price)
        reward_credit(guide_id=guide.pk, coins=-reward.coin_price, exp=0, source="redemption",
                      source_id=str(redemption.pk), note=f"兑换 {reward.name}")
        audit(action="reward.redeem", actor=f"guide:{guide.pk}", brand=guide.brand, guide_id=guide.pk,
              redemption_id=redemption.pk, reward_id=reward.pk, coins=reward.coin_price)
    return redemption


def _in_scope(*, redemption_id: int, brand_id: int | None) -> Redemption:
    """A redemption the caller decides: a brand's ones for that brand, the mall's ones (no brand) for the mall."""
    redemption = (Redemption.objects.select_for_update(of=("self",)).select_related("reward", "brand")
                  .filter(pk=redemption_id, brand_id=brand_id).first())
    if redemption is None:
        raise NotFound("No such redemption. 兑换申请不存在。", code="redemption_not_found")
    return redemption


_NEXT = {"approve": ({RedemptionState.PENDING}, RedemptionState.APPROVED),
         "fulfil": ({RedemptionState.APPROVED}, RedemptionState.FULFILLED),
         "reject": ({RedemptionState.PENDING, RedemptionState.APPROVED}, RedemptionState.REJECTED)}


def redemption_advance(*, redemption_id: int, action: str, brand_id: int | None, actor: str,
                       note: str = "") -> Redemption:
    """approve (pending -> approved), fulfil (approved -> fulfilled) or reject (gives coins and stock back)."""
    if action not in _NEXT:
        raise AppError("Unknown action. 未知操作。", code="invalid_action", fields={"action": list(_NEXT)})
    allowed_from, to_state = _NEXT[action]
    with transaction.atomic():
        redemption = _in_scope(redemption_id=redemption_id, brand_id=brand_id)
        if redemption.state == to_state:
            return redemption  # a repeated click changes nothing
        if redemption.state not in allowed_from:
            raise Conflict(f"Cannot {action} a {redemption.state} redemption. 当前状态不可执行该操作。",
                           code="invalid_state", fields={"state": [redemption.state]})
        now = timezone.now()
        redemption.state = to_state
        redemption.note = (note or redemption.note)[:200]
        if action == "fulfil":
            redemption.fulfilled_at = now
        else:
            redemption.decided_at, redemption.decided_by = now, actor[:120]
        redemption.save(update_fields=["state", "note", "fulfilled_at", "decided_at", "decided_by"])
        if action == "reject":
            Reward.objects.filter(pk=redemption.reward_id).update(stock=F("stock") + 1)
            reward_credit(guide_id=redemption.guide_id, coins=redemption.coins, exp=0, source="redemption_refund",
                          source_id=str(redemption.pk), note=f"驳回退还 {redemption.reward.name}")
        audit(action=f"reward.{action}", actor=actor, brand=redemption.brand, guide_id=redemption.guide_id,
              redemption_id=redemption.pk)
    return redemption
