"""Guide incentives (导购激励), kept by the mall (public schema): the coins and experience ledger,
the balances derived from it, and the configurable rank ladder (青铜 bronze ... 王者 king)."""

from __future__ import annotations

from django.db import models

from guides.models import Guide


class RankRule(models.Model):
    """A guide rank (段位) reached by total experience; the mall edits the thresholds."""

    code = models.SlugField(max_length=20, unique=True)
    name = models.CharField("名称 Name", max_length=30)
    min_exp = models.PositiveIntegerField("经验门槛 Minimum experience", unique=True)

    class Meta:
        verbose_name = "段位规则 Rank rule"
        verbose_name_plural = "段位规则 Rank rules"
        ordering = ["min_exp"]

    def __str__(self) -> str:
        return f"{self.name} ≥ {self.min_exp}"


class RewardEntry(models.Model):
    """One line of a guide's append-only coins/experience ledger (金币/经验流水).

    One entry per source event and guide: ``(guide, source, source_id)`` is unique, so a task
    completed twice or an order event delivered twice credits once. A reversal (e.g. a refund) is
    its own entry with its own source and negative amounts; entries are never updated or deleted.
    """

    guide = models.ForeignKey(Guide, on_delete=models.PROTECT, related_name="reward_entries",
                              verbose_name="导购 Guide")
    coins = models.IntegerField("金币 Coins", default=0)
    exp = models.IntegerField("经验 Experience", default=0)
    source = models.CharField("来源 Source", max_length=40, help_text="task, order_paid, order_refunded, ...")
    source_id = models.CharField("来源编号 Source id", max_length=120)
    note = models.CharField("说明 Note", max_length=200, blank=True)
    created_at = models.DateTimeField("时间 At", auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "金币经验流水 Reward entry"
        verbose_name_plural = "金币经验流水 Reward entries"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["guide", "source", "source_id"], name="reward_entry_once_per_source"),
            models.CheckConstraint(condition=~models.Q(coins=0, exp=0), name="reward_entry_nonzero"),
        ]
        indexes = [models.Index(fields=["guide", "created_at"], name="reward_entry_guide_at")]

    def __str__(self) -> str:
        return f"{self.source}:{self.source_id} {self.coins:+d}c {self.exp:+d}xp"


class GuideBalance(models.Model):
    """A guide's current coins and experience: the sum of their ledger, kept in the same statement
    as each entry and rebuildable from the ledger at any time (``balances_rebuild``)."""

    guide = models.OneToOneField(Guide, primary_key=True, on_delete=models.PROTECT, related_name="reward_balance",
                                 verbose_name="导购 Guide")
    coins = models.IntegerField("金币 Coins", default=0)
    exp = models.IntegerField("经验 Experience", default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "导购余额 Guide balance"
        verbose_name_plural = "导购余额 Guide balances"

    def __str__(self) -> str:
        return f"{self.guide_id}: {self.coins}c {self.exp}xp"


# --------------------------------------------------------------------------- share links and attribution

class AttributionSettings(models.Model):
    """The mall's attribution rules (归因规则), one row: a share-link click within ``click_window_days``
    beats the customer's current guide at the brand, which beats their first guide."""

    click_window_days = models.PositiveSmallIntegerField("分享链接归因天数 Share-click window (days)", default=7)
    use_current_guide = models.BooleanField("其次归属当前导购 Then the current guide", default=True)
    use_first_guide = models.BooleanField("再次归属首位导购 Then the first guide", default=True)
    cross_space_km = models.DecimalField("跨空间距离(公里) Cross-space distance (km)", max_digits=6,
                                         decimal_places=1, default=5)
    points_per_yuan = models.PositiveSmallIntegerField("每元积分 Member points per ¥1", default=1)
    coins_per_100_yuan = models.PositiveSmallIntegerField("每百元金币 Guide coins per ¥100", default=10)
    exp_per_100_yuan = models.PositiveSmallIntegerField("每百元经验 Guide experience per ¥100", default=20)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "归因规则 Attribution settings"
        verbose_name_plural = "归因规则 Attribution settings"
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="attribution_settings_single_row")]

    def __str__(self) -> str:
        return f"{self.click_window_days} days / {self.cross_space_km} km"

    @classmethod
    def current(cls) -> AttributionSettings:
        return cls.objects.get_or_create(pk=1)[0]


class ShareKind(models.TextChoices):
    PRODUCT = "product", "商品 Product"
    PAGE = "page", "页面 Page"
    COUPON = "coupon", "优惠券 Coupon"
    LIVE = "live", "直播 Live stream"


class ShareLink(models.Model):
    """A guide's exclusive share link (专属链接): /s/<code>, one per guide and target.

    The code is the row id plus an HMAC of it, so codes cannot be guessed or enumerated. The live
    counters are the per-share real-time feedback (opened, liked, added to cart, bought, sales,
    commission), moved by single UPDATEs as events arrive and rebuilt from events and orders.
    """

    guide = models.ForeignKey(Guide, on_delete=models.PROTECT, related_name="share_links", verbose_name="导购 Guide")
    brand = models.ForeignKey("tenants.Brand", on_delete=models.PROTECT, related_name="+", verbose_name="品牌 Brand")
    kind = models.CharField("类型 Kind", max_length=10, choices=ShareKind.choices)
    target_id = models.CharField("目标编号 Target id", max_length=64, help_text="SKU, page key, coupon template, live id")
    title = models.CharField("标题 Title", max_length=100)
    target_url = models.URLField("目标地址 Target URL", max_length=500)
    code = models.CharField("短码 Code", max_length=24, unique=True, null=True, editable=False)
    opened = models.PositiveIntegerField("打开 Opened", default=0)
    liked = models.PositiveIntegerField("点赞 Liked", default=0)
    carted = models.PositiveIntegerField("加购 Added to cart", default=0)
    bought = models.IntegerField("购买 Bought", default=0)
    sales_cents = models.BigIntegerField("销售额(分) Sales (cents)", default=0)
    commission_cents = models.BigIntegerField("佣金(分) Commission (cents)", default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "专属链接 Share link"
        verbose_name_plural = "专属链接 Share links"
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["guide", "kind", "target_id"], name="share_link_one_per_target")]
        indexes = [models.Index(fields=["guide", "-updated_at"], name="share_link_guide_feed")]

    def __str__(self) -> str:
        return f"{self.title} ({self.code})"


class ShareActionKind(models.TextChoices):
    OPEN = "open", "打开 Opened"
    LIKE = "like", "点赞 Liked"
    CART = "cart", "加购 Added to cart"


class ShareAction(models.Model):
    """A visitor opened / liked / carted a share link on a day (Asia/Shanghai): counted once per
    visitor, link, kind and day. An open is also what carries the guide to a later order."""

    link = models.ForeignKey(ShareLink, on_delete=models.PROTECT, related_name="actions")
    kind = models.CharField(max_length=10, choices=ShareActionKind.choices)
    visitor = models.CharField("访客 Visitor", max_length=80, help_text="v:<cookie id> or m:<member code>")
    member_id = models.BigIntegerField(null=True, blank=True)
    day = models.DateField()
    at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "链接访问 Share action"
        verbose_name_plural = "链接访问 Share actions"
        constraints = [models.UniqueConstraint(fields=["link", "kind", "visitor", "day"], name="share_action_once_a_day")]
        indexes = [models.Index(fields=["member_id", "-at"], name="share_action_member",
                                condition=models.Q(member_id__isnull=False, kind="open"))]

    def __str__(self) -> str:
        return f"{self.kind} {self.link_id} {self.day}"


class ShareEvent(models.Model):
    """An event the mall's mini-program / POS / live-stream system sent, kept by its event id so a
    retried delivery changes nothing."""

    event_id = models.CharField(max_length=80, unique=True)
    kind = models.CharField(max_length=20)
    link = models.ForeignKey(ShareLink, null=True, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=120, help_text="api:<key prefix>")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "接收事件 Received event"
        verbose_name_plural = "接收事件 Received events"

    def __str__(self) -> str:
        return self.event_id


# --------------------------------------------------------------------------- rewards shop

class Reward(models.Model):
    """A gift or benefit in the rewards shop (积分商城 for guides), priced in coins, with stock.

    The mall's rewards (no brand) are for every guide; a brand's rewards only for its own guides.
    """

    class Kind(models.TextChoices):
        GIFT = "gift", "实物礼品 Gift"
        BENEFIT = "benefit", "权益 Benefit"

    brand = models.ForeignKey("tenants.Brand", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                              verbose_name="品牌 Brand", help_text="Empty = a mall reward for every guide")
    name = models.CharField("名称 Name", max_length=100)
    description = models.CharField("说明 Description", max_length=300, blank=True)
    kind = models.CharField("类型 Kind", max_length=10, choices=Kind.choices, default=Kind.GIFT)
    coin_price = models.PositiveIntegerField("金币价格 Coin price")
    stock = models.PositiveIntegerField("库存 Stock")
    is_active = models.BooleanField("上架 Active", default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "激励奖品 Reward"
        verbose_name_plural = "激励奖品 Rewards"
        ordering = ["coin_price", "id"]
        constraints = [models.CheckConstraint(condition=models.Q(coin_price__gt=0), name="reward_price_positive")]

    def __str__(self) -> str:
        return f"{self.name} ({self.coin_price})"


class RedemptionState(models.TextChoices):
    PENDING = "pending", "待审批 Pending"
    APPROVED = "approved", "已批准 Approved"
    FULFILLED = "fulfilled", "已发放 Fulfilled"
    REJECTED = "rejected", "已驳回 Rejected"


class Redemption(models.Model):
    """A guide's exchange of coins for a reward (兑换): pending -> approved -> fulfilled, or rejected.

    The coins leave the balance and the stock goes down when the guide asks (so nobody spends the
    same coins twice); a rejection gives both back.
    """

    guide = models.ForeignKey(Guide, on_delete=models.PROTECT, related_name="redemptions", verbose_name="导购 Guide")
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, related_name="redemptions", verbose_name="奖品 Reward")
    brand = models.ForeignKey("tenants.Brand", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                              help_text="The reward's brand: who approves (empty = the mall)")
    coins = models.PositiveIntegerField("金币 Coins")
    state = models.CharField("状态 State", max_length=10, choices=RedemptionState.choices,
                             default=RedemptionState.PENDING)
    requested_at = models.DateTimeField("申请时间 Requested", auto_now_add=True)
    decided_at = models.DateTimeField("审批时间 Decided", null=True, blank=True)
    decided_by = models.CharField("审批人 Decided by", max_length=120, blank=True)
    fulfilled_at = models.DateTimeField("发放时间 Fulfilled", null=True, blank=True)
    note = models.CharField("备注 Note", max_length=200, blank=True)

    class Meta:
        verbose_name = "奖品兑换 Redemption"
        verbose_name_plural = "奖品兑换 Redemptions"
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["brand", "state"], name="redemption_brand_state")]

    def __str__(self) -> str:
        return f"{self.reward_id} · {self.get_state_display()}"


class StarGuide(models.Model):
    """A guide the mall features (明星导购): shown to every guide with their live numbers and a short story."""

    guide = models.OneToOneField(Guide, on_delete=models.PROTECT, related_name="star", verbose_name="导购 Guide")
    headline = models.CharField("称号 Headline", max_length=40, help_text="e.g. 11月销冠 November's top seller")
    story = models.TextField("故事 Story", max_length=500)
    position = models.PositiveSmallIntegerField("排序 Order", default=0)
    is_active = models.BooleanField("展示 Shown", default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "明星导购 Star guide"
        verbose_name_plural = "明星导购 Star guides"
        ordering = ["position", "-created_at"]

    def __str__(self) -> str:
        return self.headline
