"""Public schema: the mall's (HQ, 总部) lifecycle programs, e.g. the 28-day loyal customer habit.

A program has versions; only one is published at a time. Guide tasks copy what they need from a node
(title, script, coupon, reward) when they are issued, so editing or republishing a program never rewrites
a task already issued. A node's ``key`` is stable across versions: the engine's uniqueness key uses it, so
republishing never issues the same node twice to a customer.

Campaign tasks (活动任务) live here too, the mall's and the brands' alike (see ``Campaign``).
"""

from django.db import models

from guides.models import Guide
from members.models import CouponTemplate
from tenants.models import Brand, Counter, Store


class TaskType(models.TextChoices):
    WELCOME = "welcome", "欢迎礼与入群 Welcome gift & group invite"
    BENEFITS = "benefits", "权益介绍 Member benefits"
    CARE = "care", "回访关怀 Care follow-up"
    COUPON = "coupon", "发券 Send a coupon"
    HABIT = "habit", "习惯养成 Habit check-in"
    BIRTHDAY = "birthday", "生日关怀 Birthday"
    TIER_UPGRADE = "tier_upgrade", "升级祝贺 Tier upgrade"
    POINTS_EXPIRING = "points_expiring", "积分到期提醒 Points expiring"
    COUPON_EXPIRING = "coupon_expiring", "券到期提醒 Coupon expiring"
    COUPON_REMINDER = "coupon_reminder", "看券未用提醒 Viewed, not used"
    DORMANT = "dormant", "沉睡唤醒 Dormant customer"
    GROUP_ANNIVERSARY = "group_anniversary", "入群100天 100 days in group"
    OTHER = "other", "其他 Other"


class Program(models.Model):
    """A lifecycle program (生命周期方案) defined by the mall for every brand's guides."""

    code = models.SlugField("编码 Code", max_length=40, unique=True)
    name = models.CharField("名称 Name", max_length=100)
    description = models.TextField("说明 Description", blank=True)
    is_default = models.BooleanField("默认方案 Default", default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "总部方案 HQ program"
        verbose_name_plural = "总部方案 HQ programs"
        constraints = [models.UniqueConstraint(fields=["is_default"], condition=models.Q(is_default=True),
                                               name="program_one_default")]

    def __str__(self) -> str:
        return self.name


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "草稿 Draft"
    PUBLISHED = "published", "已发布 Published"
    RETIRED = "retired", "已停用 Retired"


class ProgramVersion(models.Model):
    """One version of a program. Publishing one retires the previous; issued tasks keep their snapshot."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField("版本 Version")
    status = models.CharField("状态 Status", max_length=10, choices=VersionStatus.choices, default=VersionStatus.DRAFT)
    note = models.CharField("说明 Note", max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField("发布时间 Published", null=True, blank=True)

    class Meta:
        verbose_name = "方案版本 Program version"
        verbose_name_plural = "方案版本 Program versions"
        ordering = ["program_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["program", "number"], name="programversion_number"),
            models.UniqueConstraint(fields=["program"], condition=models.Q(status="published"),
                                    name="programversion_one_published"),
        ]

    def __str__(self) -> str:
        return f"{self.program} v{self.number}"


class ProgramNode(models.Model):
    """A node (节点) of an HQ program version: on lifecycle day ``day_offset`` the guide gets a task."""

    version = models.ForeignKey(ProgramVersion, on_delete=models.CASCADE, related_name="nodes")
    key = models.SlugField("节点标识 Key", max_length=30, help_text="Stable across versions, e.g. d7")
    day_offset = models.PositiveSmallIntegerField("第几天 Day offset")
    task_type = models.CharField("任务类型 Task type", max_length=20, choices=TaskType.choices)
    title = models.CharField("标题 Title", max_length=100)
    script = models.TextField("话术 Script", max_length=2000, help_text="{name} = the customer's name")
    coupon_template = models.ForeignKey(CouponTemplate, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="+", verbose_name="券 Coupon")
    due_window_days = models.PositiveSmallIntegerField("完成期限(天) Due window (days)", default=3)
    reward_coins = models.PositiveIntegerField("金币奖励 Coins", default=0)
    reward_exp = models.PositiveIntegerField("经验奖励 Experience", default=0)
    optional = models.BooleanField("品牌可关闭 Optional", default=False,
                                   help_text="Brands may switch optional nodes off")

    class Meta:
        verbose_name = "总部节点 HQ node"
        verbose_name_plural = "总部节点 HQ nodes"
        ordering = ["version_id", "day_offset", "key"]
        constraints = [
            models.UniqueConstraint(fields=["version", "key"], name="programnode_key_per_version"),
            models.CheckConstraint(condition=models.Q(due_window_days__gte=1), name="programnode_window_positive"),
        ]

    def __str__(self) -> str:
        return f"D{self.day_offset} {self.title}"


# --------------------------------------------------------------------------- campaign tasks (活动任务)

class CampaignState(models.TextChoices):
    DRAFT = "draft", "草稿 Draft"
    PUBLISHED = "published", "已发布 Published"
    SETTLED = "settled", "已结算 Settled"


class CampaignAudience(models.TextChoices):
    ALL = "all", "全部导购 All guides"
    STORES = "stores", "指定门店 Stores"
    BRANDS = "brands", "指定品牌 Brands"
    COUNTERS = "counters", "指定专柜 Counters"


class CampaignMetric(models.TextChoices):
    """What a campaign measures, per guide, over its window; the same facts as the leaderboards."""

    SALES = "sales", "归因销售额 Attributed sales"
    CUSTOMERS = "customers", "新增客户 Customers added"
    TASKS = "tasks", "完成任务 Tasks completed"


class Campaign(models.Model):
    """A campaign task (活动任务, e.g. "rainstorm today: online selling contest") pushed to guides at once.

    The mall's campaigns (``brand`` empty) may reach any guides; a brand's campaign only that brand's own
    guides, whatever its audience says. Both live in the public schema: the audience, the guides, the claims
    and the coins ledger the rewards go to are all public, a mall campaign spans brands, and the sidebar finds
    every campaign open to a guide with one query. A brand sees only its own campaigns and the mall's that
    reach its guides (``tasks.mall.selectors``).

    Guides claim it (``CampaignClaim``); progress is measured from the record (orders, relationships, task
    rewards) over [starts_at, ends_at); when it ends every claim that reached ``target`` earns the reward,
    the best ``top_n`` of those the bonus too, each credited once.
    """

    brand = models.ForeignKey(Brand, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                              verbose_name="所属品牌 Owner brand", help_text="Empty = a mall campaign")
    title = models.CharField("标题 Title", max_length=100)
    description = models.TextField("活动说明 Description", max_length=2000, blank=True)
    script = models.TextField("推荐话术 Script", max_length=2000, blank=True,
                              help_text="What the guide may send customers")
    audience = models.CharField("参与对象 Audience", max_length=10, choices=CampaignAudience.choices,
                                default=CampaignAudience.ALL)
    stores = models.ManyToManyField(Store, blank=True, related_name="+", verbose_name="门店 Stores")
    brands = models.ManyToManyField(Brand, blank=True, related_name="+", verbose_name="品牌 Brands")
    counters = models.ManyToManyField(Counter, blank=True, related_name="+", verbose_name="专柜 Counters")
    starts_at = models.DateTimeField("开始 Starts")
    ends_at = models.DateTimeField("结束 Ends")
    metric = models.CharField("目标指标 Goal metric", max_length=12, choices=CampaignMetric.choices)
    target = models.PositiveBigIntegerField("每人目标 Target per guide", help_text="Sales in cents (分)")
    reward_coins = models.PositiveIntegerField("达标金币 Coins for reaching it", default=0)
    reward_exp = models.PositiveIntegerField("达标经验 Experience for reaching it", default=0)
    top_n = models.PositiveSmallIntegerField("前N名加奖 Top-N bonus: N", default=0)
    top_coins = models.PositiveIntegerField("前N名加奖金币 Top-N bonus coins", default=0)
    top_exp = models.PositiveIntegerField("前N名加奖经验 Top-N bonus experience", default=0)
    state = models.CharField("状态 State", max_length=10, choices=CampaignState.choices, default=CampaignState.DRAFT)
    created_by = models.CharField("创建人 Created by", max_length=120, blank=True)
    created_at = models.DateTimeField("创建时间 Created", auto_now_add=True)
    published_at = models.DateTimeField("发布时间 Published", null=True, blank=True)
    progress_at = models.DateTimeField("进度更新 Progress as of", null=True, blank=True)
    settled_at = models.DateTimeField("结算时间 Settled", null=True, blank=True)

    class Meta:
        verbose_name = "活动任务 Campaign"
        verbose_name_plural = "活动任务 Campaigns"
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")), name="campaign_window",
                                   violation_error_message="结束时间须晚于开始时间 The end must be after the start."),
            models.CheckConstraint(condition=models.Q(target__gt=0), name="campaign_target_positive",
                                   violation_error_message="目标须大于0 The target must be above 0."),
        ]
        indexes = [models.Index(fields=["state", "ends_at"], name="campaign_state_ends")]

    def __str__(self) -> str:
        return self.title

    @property
    def owner_label(self) -> str:
        return self.brand.name if self.brand_id else "商场 Mall"

    def amount_label(self, value: int) -> str:
        """A progress or target value as people read it: ¥ for sales (stored in cents), a count otherwise."""
        if self.metric == CampaignMetric.SALES:
            return f"¥{value // 100:,}" if value % 100 == 0 else f"¥{value / 100:,.2f}"
        return f"{value:,} 位" if self.metric == CampaignMetric.CUSTOMERS else f"{value:,} 个"

    @property
    def target_label(self) -> str:
        return self.amount_label(self.target)


class CampaignClaim(models.Model):
    """A guide took part in a campaign (领取). ``progress`` is the guide's measured total over the window
    (sales in cents), refreshed from the record; ``settled_at`` is set once, when the rewards are credited."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="claims",
                                 verbose_name="活动 Campaign")
    guide = models.ForeignKey(Guide, on_delete=models.PROTECT, related_name="+", verbose_name="导购 Guide")
    claimed_at = models.DateTimeField("领取时间 Claimed", auto_now_add=True)
    progress = models.BigIntegerField("进度 Progress", default=0)
    progress_at = models.DateTimeField("进度更新 Progress as of", null=True, blank=True)
    reached = models.BooleanField("已达标 Reached", default=False)
    reached_at = models.DateTimeField("达标时间 Reached at", null=True, blank=True)
    rank = models.PositiveIntegerField("名次 Rank", null=True, blank=True, help_text="Among those who reached it")
    reward_coins = models.PositiveIntegerField("发放金币 Coins credited", default=0)
    reward_exp = models.PositiveIntegerField("发放经验 Experience credited", default=0)
    settled_at = models.DateTimeField("结算时间 Settled", null=True, blank=True)

    class Meta:
        verbose_name = "活动领取 Campaign claim"
        verbose_name_plural = "活动领取 Campaign claims"
        ordering = ["-progress", "claimed_at", "id"]
        constraints = [models.UniqueConstraint(fields=["campaign", "guide"], name="campaignclaim_once")]
        indexes = [models.Index(fields=["guide", "campaign"], name="campaignclaim_guide")]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.guide_id}"


class NoticeStatus(models.TextChoices):
    SENDING = "sending", "发送中 Sending"
    SENT = "sent", "已发送 Sent"
    RETRY = "retry", "待重试 To retry (rate limited)"
    FAILED = "failed", "失败 Failed"
    UNKNOWN = "unknown", "结果未知 Unknown (not resent)"


class CampaignNotice(models.Model):
    """One WeCom app message (应用消息) announcing a published campaign to one chunk of its audience: the
    active guides with ids in [first_guide_id, last_guide_id], at most 1000 (message/send's limit).

    The row is written before the call and its ``seq`` is unique per campaign, so a re-run (or a second
    worker) continues after the last chunk instead of messaging anyone twice. A chunk WeCom rate-limited is
    sent again; one whose outcome is unknown (network) is not: a duplicate is worse than a miss, the sidebar
    shows the campaign anyway.
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="notices")
    seq = models.PositiveIntegerField("批次 Chunk")
    first_guide_id = models.BigIntegerField()
    last_guide_id = models.BigIntegerField()
    recipients = models.PositiveIntegerField("接收人数 Recipients")
    status = models.CharField("状态 Status", max_length=10, choices=NoticeStatus.choices,
                              default=NoticeStatus.SENDING)
    errcode = models.IntegerField(null=True, blank=True)
    invalid_users = models.PositiveIntegerField("无效账号 Invalid userids", default=0)
    msgid = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "活动通知 Campaign notice"
        verbose_name_plural = "活动通知 Campaign notices"
        ordering = ["campaign_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["campaign", "seq"], name="campaignnotice_once")]

    def __str__(self) -> str:
        return f"{self.campaign_id}#{self.seq} {self.status}"
