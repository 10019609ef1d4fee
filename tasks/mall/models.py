"""Public schema: the mall's (HQ, 总部) lifecycle programs, e.g. the 28-day loyal customer habit.

A program has versions; only one is published at a time. Guide tasks copy what they need from a node
(title, script, coupon, reward) when they are issued, so editing or republishing a program never rewrites
a task already issued. A node's ``key`` is stable across versions: the engine's uniqueness key uses it, so
republishing never issues the same node twice to a customer.
"""

from django.db import models

from members.models import CouponTemplate


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
