"""The mall's member identity (一码双会员: one code, dual membership), points and mall coupons."""

from __future__ import annotations

from django.db import models

from tenants.models import Brand, Store


class Gender(models.TextChoices):
    UNKNOWN = "unknown", "未知 Unknown"
    FEMALE = "female", "女 Female"
    MALE = "male", "男 Male"


class Member(models.Model):
    """A person known to the mall: one identity, one points balance and one tier across brands."""

    code = models.CharField("会员码 Member code", max_length=10, unique=True)
    unionid = models.CharField("UnionID", max_length=64, unique=True, null=True, blank=True)
    phone_hash = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    phone_encrypted = models.TextField(blank=True, editable=False)
    phone_masked = models.CharField("手机 Phone", max_length=16, blank=True, editable=False)
    name = models.CharField("姓名 Name", max_length=50, blank=True)
    gender = models.CharField("性别 Gender", max_length=10, choices=Gender.choices, default=Gender.UNKNOWN)
    birthday = models.DateField("生日 Birthday", null=True, blank=True)
    tier = models.CharField("等级 Tier", max_length=20, default="normal", db_index=True)
    points_balance = models.IntegerField("积分余额 Points balance", default=0, editable=False)
    marketing_consent = models.BooleanField("营销授权 Marketing consent", default=False)
    privacy_accepted_at = models.DateTimeField("隐私协议同意时间 Privacy accepted", null=True, blank=True)
    first_brand = models.ForeignKey(
        Brand, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name="首次入会品牌 First brand"
    )
    first_guide = models.ForeignKey(
        "guides.Guide", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name="首次导购 First guide",
    )
    first_channel = models.CharField("首次渠道 First channel", max_length=64, blank=True)
    created_at = models.DateTimeField("入会时间 Joined", auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "会员 Member"
        verbose_name_plural = "会员 Members"
        constraints = [models.CheckConstraint(condition=models.Q(points_balance__gte=0), name="member_points_never_negative")]
        indexes = [
            # name prefix search (surname first) stays an index scan on millions of rows
            models.Index(fields=["name"], name="member_name_idx", opclasses=["varchar_pattern_ops"]),
        ]

    def __str__(self) -> str:
        return f"{self.name or '—'} ({self.code})"


class MemberExternalId(models.Model):
    """A WeCom external_userid of the member, per corp (a brand with its own WeCom has its own id)."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="external_ids")
    corp_id = models.CharField(max_length=64)
    external_userid = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "企微外部联系人ID External userid"
        verbose_name_plural = "企微外部联系人ID External userids"
        constraints = [models.UniqueConstraint(fields=["corp_id", "external_userid"], name="external_id_unique")]

    def __str__(self) -> str:
        return self.external_userid


class TierRule(models.Model):
    """A membership tier (等级) reached by points earned over a rolling 12 months."""

    code = models.SlugField(max_length=20, unique=True)
    name = models.CharField("名称 Name", max_length=30)
    min_points_12m = models.PositiveIntegerField("12个月积分门槛 Rolling 12-month points")

    class Meta:
        verbose_name = "会员等级规则 Tier rule"
        verbose_name_plural = "会员等级规则 Tier rules"
        ordering = ["min_points_12m"]

    def __str__(self) -> str:
        return f"{self.name} ≥ {self.min_points_12m}"


class TierChange(models.Model):
    """Event: a member's tier changed. The task engine consumes these (tier-upgrade trigger)."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="tier_changes")
    from_tier = models.CharField(max_length=20)
    to_tier = models.CharField(max_length=20)
    is_upgrade = models.BooleanField()
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    entry = models.ForeignKey("PointsEntry", null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = "等级变更 Tier change"
        verbose_name_plural = "等级变更 Tier changes"
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.from_tier} -> {self.to_tier}"


class PointsKind(models.TextChoices):
    EARN = "earn", "获得 Earn"
    REDEEM = "redeem", "兑换 Redeem"
    EXPIRE = "expire", "过期 Expire"
    ADJUST = "adjust", "调整 Adjust"


class PointsEntry(models.Model):
    """One line of the mall's append-only points ledger (积分流水).

    Positive entries are lots with an expiry; ``remaining`` is what is left of a lot after
    redemptions and expiry took from it (oldest lots first). The balance is the sum of ``amount``.
    """

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="points_entries")
    kind = models.CharField("类型 Kind", max_length=10, choices=PointsKind.choices)
    amount = models.IntegerField("积分 Points")
    remaining = models.IntegerField("剩余 Remaining", default=0)
    expires_at = models.DateTimeField("过期时间 Expires", null=True, blank=True)
    brand = models.ForeignKey(Brand, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                              verbose_name="品牌 Brand")
    idempotency_key = models.CharField(max_length=120, unique=True)
    reason = models.CharField("说明 Reason", max_length=200, blank=True)
    actor = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField("时间 At", auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "积分流水 Points entry"
        verbose_name_plural = "积分流水 Points entries"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(remaining__gte=0), name="points_remaining_never_negative"),
            models.CheckConstraint(condition=~models.Q(amount=0), name="points_amount_nonzero"),
        ]
        indexes = [
            # the open lots of a member, oldest expiry first
            models.Index(fields=["member", "expires_at", "id"], name="points_open_lots",
                         condition=models.Q(remaining__gt=0)),
            models.Index(fields=["expires_at"], name="points_due_lots", condition=models.Q(remaining__gt=0)),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount:+d}"


class CouponKind(models.TextChoices):
    CASH = "cash", "代金券 Cash"
    DISCOUNT = "discount", "折扣券 Discount"


class CouponState(models.TextChoices):
    ISSUED = "issued", "已发放 Issued"
    VIEWED = "viewed", "已查看 Viewed"
    REDEEMED = "redeemed", "已核销 Redeemed"
    EXPIRED = "expired", "已过期 Expired"


class CouponTemplateBase(models.Model):
    name = models.CharField("名称 Name", max_length=100)
    kind = models.CharField("类型 Kind", max_length=10, choices=CouponKind.choices)
    value_cents = models.PositiveIntegerField("面额(分) Value (cents)", default=0)
    discount_percent = models.PositiveSmallIntegerField("折扣(%) Discount %", null=True, blank=True,
                                                        help_text="85 = pay 85% (8.5折)")
    threshold_cents = models.PositiveIntegerField("门槛(分) Threshold (cents)", default=0)
    valid_from = models.DateTimeField("生效 Valid from", null=True, blank=True)
    valid_until = models.DateTimeField("失效 Valid until", null=True, blank=True)
    valid_days = models.PositiveSmallIntegerField("领取后有效天数 Valid days after issue", null=True, blank=True)
    stock = models.PositiveIntegerField("库存 Stock", null=True, blank=True, help_text="Empty = unlimited")
    issued_count = models.PositiveIntegerField("已发 Issued", default=0, editable=False)
    is_active = models.BooleanField("启用 Active", default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        constraints = []

    def __str__(self) -> str:
        return self.name


class CouponBase(models.Model):
    code = models.CharField("券码 Code", max_length=16, unique=True)
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="+", verbose_name="会员 Member")
    state = models.CharField("状态 State", max_length=10, choices=CouponState.choices, default=CouponState.ISSUED)
    issued_at = models.DateTimeField("发放 Issued", auto_now_add=True)
    viewed_at = models.DateTimeField("查看 Viewed", null=True, blank=True)
    redeemed_at = models.DateTimeField("核销 Redeemed", null=True, blank=True)
    expired_at = models.DateTimeField("过期 Expired", null=True, blank=True)
    valid_until = models.DateTimeField("有效期至 Valid until")
    redemption_id = models.CharField("核销单号 Redemption id", max_length=64, unique=True, null=True, blank=True)
    redeemed_store = models.ForeignKey(Store, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    issued_by_guide = models.ForeignKey("guides.Guide", null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    channel = models.CharField("渠道 Channel", max_length=64, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.code


class CouponTemplate(CouponTemplateBase):
    """A mall coupon (商场券) usable at any brand."""

    class Meta:
        verbose_name = "商场券模板 Mall coupon template"
        verbose_name_plural = "商场券模板 Mall coupon templates"


class Coupon(CouponBase):
    """A mall coupon issued to a member: issued -> viewed -> redeemed or expired."""

    template = models.ForeignKey(CouponTemplate, on_delete=models.PROTECT, related_name="coupons")

    class Meta:
        verbose_name = "商场券 Mall coupon"
        verbose_name_plural = "商场券 Mall coupons"
        indexes = [models.Index(fields=["member", "state"]), models.Index(fields=["state", "valid_until"])]
