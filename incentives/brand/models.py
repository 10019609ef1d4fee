"""Brand schema: the brand's orders with their attribution facts, its commission rule and ledger."""

from __future__ import annotations

from django.db import models

from guides.models import Guide
from members.models import Member
from tenants.models import Counter, Store


class CommissionRule(models.Model):
    """The brand's commission for attributed orders (佣金规则): a rate on the paid amount. One row."""

    rate_bp = models.PositiveIntegerField("佣金比例(万分之) Rate (basis points)", default=1000,
                                          help_text="1000 = 10% of the paid amount")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "佣金规则 Commission rule"
        verbose_name_plural = "佣金规则 Commission rules"
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="commission_rule_single_row")]

    def __str__(self) -> str:
        return f"{self.rate_bp / 100:.2f}%"

    @classmethod
    def current(cls) -> CommissionRule:
        return cls.objects.get_or_create(pk=1)[0]


class AttributedBy(models.TextChoices):
    SHARE_LINK = "share_link", "分享链接 Share link"
    CURRENT_GUIDE = "current_guide", "当前导购 Current guide"
    FIRST_GUIDE = "first_guide", "首位导购 First guide"
    NONE = "none", "未归因 Unattributed"


class OrderStatus(models.TextChoices):
    PAID = "paid", "已支付 Paid"
    PARTIALLY_REFUNDED = "partially_refunded", "部分退款 Partially refunded"
    REFUNDED = "refunded", "已退款 Refunded"


class Order(models.Model):
    """A paid order at the brand (订单) and the facts of its attribution: to guide, counter, store
    (and, by its schema, brand); what the member earned and the guide earned; cross-time / cross-space.
    """

    order_id = models.CharField("订单号 Order id", max_length=64, unique=True)
    channel = models.CharField("渠道 Channel", max_length=20)
    member = models.ForeignKey(Member, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    amount_cents = models.BigIntegerField("金额(分) Amount (cents)")
    paid_at = models.DateTimeField("支付时间 Paid at", db_index=True)
    status = models.CharField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.PAID)
    refunded_at = models.DateTimeField("最近退款时间 Last refunded at", null=True, blank=True)
    refunded_cents = models.BigIntegerField("已退金额(分) Refunded (cents)", default=0)
    guide = models.ForeignKey(Guide, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    counter = models.ForeignKey(Counter, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey(Store, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    attributed_by = models.CharField(max_length=20, choices=AttributedBy.choices)
    share_link_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    points = models.IntegerField("会员积分 Member points", default=0)
    points_reversed = models.IntegerField(default=0)
    commission_cents = models.BigIntegerField("佣金(分) Commission (cents)", default=0)
    commission_reversed_cents = models.BigIntegerField(default=0)
    coins = models.IntegerField(default=0)
    coins_reversed = models.IntegerField(default=0)
    exp = models.IntegerField(default=0)
    exp_reversed = models.IntegerField(default=0)
    cross_time = models.BooleanField("跨时间 Cross-time", default=False)
    cross_space = models.BooleanField("跨空间 Cross-space", default=False)
    distance_km = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "订单 Order"
        verbose_name_plural = "订单 Orders"
        indexes = [models.Index(fields=["guide", "paid_at"], name="order_guide_paid")]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount_cents__gt=0), name="order_amount_positive"),
            # the refunds of an order never add up to more than was paid
            models.CheckConstraint(condition=models.Q(refunded_cents__gte=0, refunded_cents__lte=models.F("amount_cents")),
                                   name="order_refunds_within_amount"),
        ]

    def __str__(self) -> str:
        return self.order_id

    @property
    def net_cents(self) -> int:
        return self.amount_cents - self.refunded_cents


class OrderRefund(models.Model):
    """One refund of an order (退款), whole or partial, and what it took back: points (as far as the
    member had them unspent), commission, coins and experience, each in proportion to the refunded amount.

    Idempotent by ``(order, refund_id)``: the empty id is "the rest of the order", the full refund sent
    without an id. The amounts taken back are cumulative floors (``total * refunded_so_far // amount``),
    so any split of the same refunds takes back the same, and the refund of the last cent takes back the rest.
    """

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    refund_id = models.CharField("退款单号 Refund id", max_length=64, blank=True)
    amount_cents = models.BigIntegerField("退款金额(分) Amount (cents)")
    lines = models.JSONField("退款明细 Lines", default=list, blank=True)
    points = models.IntegerField("应退积分 Points due", default=0)
    points_reversed = models.IntegerField("实退积分 Points taken back", default=0)
    commission_cents = models.BigIntegerField("冲回佣金(分) Commission reversed (cents)", default=0)
    coins = models.IntegerField("冲回金币 Coins reversed", default=0)
    exp = models.IntegerField("冲回经验 Experience reversed", default=0)
    refunded_at = models.DateTimeField("退款时间 Refunded at")
    actor = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "退款 Refund"
        verbose_name_plural = "退款 Refunds"
        constraints = [
            models.UniqueConstraint(fields=["order", "refund_id"], name="order_refund_once"),
            models.CheckConstraint(condition=models.Q(amount_cents__gt=0), name="order_refund_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}:{self.refund_id or 'full'}"


class CommissionEntry(models.Model):
    """A line of the brand's append-only commission ledger (佣金流水): earned on payment, reversed on refund."""

    guide = models.ForeignKey(Guide, on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="commission_entries")
    amount_cents = models.BigIntegerField()
    key = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "佣金流水 Commission entry"
        verbose_name_plural = "佣金流水 Commission entries"

    def __str__(self) -> str:
        return self.key
