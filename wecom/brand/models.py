"""Brand schema: the brand's welcome message (欢迎语), channel live codes (渠道活码), group live codes
(群活码) and the daily channel statistics."""

from django.contrib.postgres.fields import ArrayField
from django.db import models

from guides.models import Guide
from members.brand.models import BrandCouponTemplate
from tenants.models import Store


class WelcomeMessage(models.Model):
    """What a new customer receives right after adding one of the brand's guides.

    Text plus, optionally, a welcome coupon (issued on the spot) and a mini-program page or link.
    ``{guide}`` and ``{name}`` in the text are replaced by the guide's and the customer's names.
    """

    text = models.TextField("欢迎语 Text", max_length=4000)
    coupon_template = models.ForeignKey(BrandCouponTemplate, null=True, blank=True, on_delete=models.SET_NULL,
                                        verbose_name="欢迎券 Welcome coupon")
    miniprogram_appid = models.CharField("小程序AppID Mini-program appid", max_length=40, blank=True)
    miniprogram_page = models.CharField("小程序页面 Mini-program page", max_length=200, blank=True)
    miniprogram_title = models.CharField("小程序标题 Mini-program title", max_length=64, blank=True)
    miniprogram_pic_media_id = models.CharField(
        "小程序封面 Mini-program cover media_id", max_length=128, blank=True,
        help_text="WeCom requires a cover image media_id for a mini-program card; without it a link is sent")
    link_url = models.URLField("链接 Link URL", blank=True)
    link_title = models.CharField("链接标题 Link title", max_length=128, blank=True)
    is_active = models.BooleanField("启用 Active", default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "欢迎语 Welcome message"
        verbose_name_plural = "欢迎语 Welcome messages"

    def __str__(self) -> str:
        return self.text[:30]


class LiveCodeKind(models.TextChoices):
    COUNTER = "counter", "柜台海报 Counter poster"
    ENTRANCE = "entrance", "门店入口 Store entrance"
    EVENT = "event", "活动 Event"
    ONLINE = "online", "线上 Online"
    OTHER = "other", "其他 Other"


class LiveCode(models.Model):
    """A guide's channel live code (渠道活码): a WeCom 「联系我」 QR code (single user, QR scene).

    ``state`` names the channel (≤ 30 characters, WeCom's limit); WeCom echoes it in the
    add_external_contact callback, so every customer who scans it is attributed to this guide and
    channel. Deactivating deletes the contact way in WeCom (the printed QR stops working); the row
    stays for the statistics.
    """

    guide = models.ForeignKey(Guide, on_delete=models.PROTECT, related_name="+", verbose_name="导购 Guide")
    state = models.CharField("渠道码 Channel (State)", max_length=30,
                             help_text="Sent to WeCom as State and echoed on every add; ≤ 30 characters")
    name = models.CharField("名称 Name", max_length=30, help_text="Also the contact way's remark in WeCom")
    kind = models.CharField("类型 Kind", max_length=20, choices=LiveCodeKind.choices, default=LiveCodeKind.COUNTER)
    config_id = models.CharField("配置ID Config id", max_length=64, unique=True)
    qr_code = models.URLField("二维码 QR code URL", max_length=500, blank=True)
    created_by = models.CharField("创建人 Created by", max_length=120, blank=True)
    is_active = models.BooleanField("启用 Active", default=True)
    created_at = models.DateTimeField("创建时间 Created", auto_now_add=True)
    deactivated_at = models.DateTimeField("停用时间 Deactivated", null=True, blank=True)

    class Meta:
        verbose_name = "渠道活码 Live code"
        verbose_name_plural = "渠道活码 Live codes"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["guide", "state"], condition=models.Q(is_active=True),
                                    name="livecode_one_active_per_guide_channel"),
        ]
        indexes = [models.Index(fields=["state"], name="livecode_state")]

    def __str__(self) -> str:
        return f"{self.name} ({self.state})"


class GroupLiveCodeScope(models.TextChoices):
    BRAND = "brand", "品牌群 Brand community"
    STORE = "store", "门店群 Store community"


class GroupLiveCode(models.Model):
    """A group live code (群活码, WeCom 「加入群聊」 join way): one QR code that puts a customer into one
    of up to five customer groups, and lets WeCom open a new group when they are full."""

    name = models.CharField("名称 Name", max_length=30)
    scope = models.CharField("范围 Scope", max_length=10, choices=GroupLiveCodeScope.choices,
                             default=GroupLiveCodeScope.BRAND)
    store = models.ForeignKey(Store, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                              verbose_name="门店 Store")
    state = models.CharField("渠道码 Channel (State)", max_length=30, blank=True)
    chat_ids = ArrayField(models.CharField(max_length=64), size=5, verbose_name="客户群 Group chat ids")
    config_id = models.CharField("配置ID Config id", max_length=64, unique=True)
    qr_code = models.URLField("二维码 QR code URL", max_length=500, blank=True)
    auto_create_room = models.BooleanField("满员自动建群 Auto-create groups", default=True)
    room_base_name = models.CharField("新群名前缀 New group name", max_length=40, blank=True)
    created_by = models.CharField("创建人 Created by", max_length=120, blank=True)
    is_active = models.BooleanField("启用 Active", default=True)
    created_at = models.DateTimeField("创建时间 Created", auto_now_add=True)
    deactivated_at = models.DateTimeField("停用时间 Deactivated", null=True, blank=True)

    class Meta:
        verbose_name = "群活码 Group live code"
        verbose_name_plural = "群活码 Group live codes"
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(scope="brand", store__isnull=True)
                                   | models.Q(scope="store", store__isnull=False),
                                   name="grouplivecode_store_iff_store_scope"),
        ]

    def __str__(self) -> str:
        return self.name


class ChannelDailyStat(models.Model):
    """One day (Asia/Shanghai) of one guide's channel (渠道日报): customers added and lost.

    Filled by a nightly set-based job from the relationships. A relationship row keeps only its
    latest add and end, so once a customer leaves and comes back the earlier facts are gone from
    it; this table keeps them (a recount never lowers a stored day).
    """

    day = models.DateField("日期 Day")
    guide = models.ForeignKey(Guide, on_delete=models.PROTECT, related_name="+", verbose_name="导购 Guide")
    channel = models.CharField("渠道 Channel", max_length=64)
    adds = models.PositiveIntegerField("新增 Adds", default=0)
    deletes = models.PositiveIntegerField("流失 Deletes", default=0)
    computed_at = models.DateTimeField("统计时间 Computed at", auto_now=True)

    class Meta:
        verbose_name = "渠道日报 Channel daily stat"
        verbose_name_plural = "渠道日报 Channel daily stats"
        constraints = [models.UniqueConstraint(fields=["day", "guide", "channel"], name="channelstat_one_per_day")]
        indexes = [models.Index(fields=["day"], name="channelstat_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.channel} +{self.adds} -{self.deletes}"
