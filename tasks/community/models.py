"""Public schema: what the mall (HQ, 总部) wants done in customer groups (客户群), for every brand.

A ``GroupNode`` (群任务节点) is a template: "every Friday, a group-exclusive coupon drop", "a daily group game",
"N days after the group was created, pin the group rules", "a member reached 100 days in the group". Each
night the engine (``tasks.community.services.group_tasks_generate``) turns the nodes that apply to a brand's
groups into ``GroupTask`` rows for the group's owner (群主), in the brand's schema. Which groups a node applies
to follows the groups' tags: the brand is implicit (the brand schema the group lives in; a node may be limited to
some brands), the store is the group's store, the interest tags are picked by the brand's managers from the
mall's list (``InterestTag``), so HQ and brands speak the same words.

Tasks copy what they need from the node when issued (title, script, coupon, reward): editing a node never
rewrites a task already issued. Nodes are switched off, never deleted (tasks point at them).
"""

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models

from members.models import CouponTemplate
from tenants.models import Brand, Store


class InterestTag(models.Model):
    """An interest tag (兴趣标签) a customer group can carry, e.g. 护肤 skincare, 母婴 mother & baby.

    The mall keeps the list so that the tags brands put on their groups are the tags HQ nodes target.
    ``code`` is what groups store (``CustomerGroup.interest_tags``): never reuse it for another meaning.
    """

    code = models.SlugField("标识 Code", max_length=30, unique=True,
                            help_text="Stored on the groups; never reuse a code for another interest")
    name = models.CharField("名称 Name", max_length=40, help_text="中文 English, e.g. 护肤 Skincare")
    position = models.PositiveSmallIntegerField("顺序 Order", default=0)
    is_active = models.BooleanField("启用 Active", default=True)

    class Meta:
        verbose_name = "群兴趣标签 Group interest tag"
        verbose_name_plural = "群兴趣标签 Group interest tags"
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return self.name


class GroupTaskKind(models.TextChoices):
    COUPON_DROP = "coupon_drop", "群专属券 Group-exclusive coupon drop"
    LOTTERY = "lottery", "群抽奖 Lottery"
    DAILY_GAME = "daily_game", "每日群游戏 Daily group game"
    MILESTONE_100_DAYS = "milestone_100_days", "入群100天 Member reaches 100 days"
    CUSTOM = "custom", "自定义 Custom"


class GroupSchedule(models.TextChoices):
    DAILY = "daily", "每天 Every day"
    WEEKLY = "weekly", "每周某天 Weekly on a weekday"
    AFTER_CREATED = "after_created", "建群后第N天 N days after the group was created"
    MEMBER_DAYS = "member_days", "成员入群满N天 A member's N days in the group"


class Weekday(models.IntegerChoices):
    """ISO weekdays, as PostgreSQL's EXTRACT(ISODOW ...) numbers them."""

    MONDAY = 1, "周一 Monday"
    TUESDAY = 2, "周二 Tuesday"
    WEDNESDAY = 3, "周三 Wednesday"
    THURSDAY = 4, "周四 Thursday"
    FRIDAY = 5, "周五 Friday"
    SATURDAY = 6, "周六 Saturday"
    SUNDAY = 7, "周日 Sunday"


class GroupNode(models.Model):
    """An HQ group task template (群任务节点): what the group owner does, when, in which groups, for what reward.

    When: ``schedule`` daily; weekly on ``weekday``; once, ``offset_days`` after the group was created; or, for
    the 100-days milestone, on the day members reach ``offset_days`` in the group (one task per group and day,
    naming the members). Each occurrence may be done on its day or within ``due_window_days``; a night the engine
    missed is caught up while that window is open.
    Where: every group of the brand, narrowed by ``brands`` (empty = all), ``stores`` (empty = all) and
    ``interest_tags`` (empty = all; otherwise a group with at least one of them).
    """

    title = models.CharField("标题 Title", max_length=100)
    kind = models.CharField("类型 Kind", max_length=20, choices=GroupTaskKind.choices)
    guide_notes = models.TextField("怎么做 How to (for the guide)", max_length=1000, blank=True,
                                   help_text="What the group owner does, step by step; not sent to customers")
    script = models.TextField("群话术 Script for the group", max_length=2000,
                              help_text="Posted into the group. {group} = the group's name; {names} = the members "
                                        "who reached the milestone")
    coupon_template = models.ForeignKey(CouponTemplate, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="+", verbose_name="商场券 Mall coupon",
                                        help_text="For a coupon drop: issuing it to group members completes the task")
    schedule = models.CharField("频率 Schedule", max_length=20, choices=GroupSchedule.choices)
    weekday = models.PositiveSmallIntegerField("星期 Weekday", choices=Weekday.choices, null=True, blank=True,
                                               help_text="Weekly schedule only")
    offset_days = models.PositiveSmallIntegerField("N天 N days", null=True, blank=True,
                                                   help_text="'N days after creation' and 'member's N days' only")
    due_window_days = models.PositiveSmallIntegerField("完成期限(天) Due window (days)", default=1,
                                                       help_text="1 = on its day only")
    brands = models.ManyToManyField(Brand, blank=True, related_name="+", verbose_name="品牌 Brands",
                                    help_text="Empty = every brand")
    stores = models.ManyToManyField(Store, blank=True, related_name="+", verbose_name="门店 Stores",
                                    help_text="Empty = every store")
    interest_tags = ArrayField(models.CharField(max_length=30), default=list, blank=True,
                               verbose_name="兴趣标签 Interest tags",
                               help_text="Codes of interest tags; empty = every group")
    optional = models.BooleanField("品牌可关闭 Optional", default=True, help_text="Brands may switch it off")
    is_active = models.BooleanField("启用 Active", default=True)
    starts_on = models.DateField("开始日期 Starts on", help_text="No task is issued for a day before this")
    ends_on = models.DateField("结束日期 Ends on", null=True, blank=True)
    reward_coins = models.PositiveIntegerField("金币奖励 Coins", default=0)
    reward_exp = models.PositiveIntegerField("经验奖励 Experience", default=0)
    position = models.PositiveSmallIntegerField("顺序 Order", default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "总部群任务节点 HQ group node"
        verbose_name_plural = "总部群任务节点 HQ group nodes"
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(due_window_days__gte=1, due_window_days__lte=30),
                                   name="groupnode_window_1_30"),
            models.CheckConstraint(condition=~models.Q(schedule="weekly") | models.Q(weekday__isnull=False),
                                   name="groupnode_weekly_has_weekday"),
            models.CheckConstraint(condition=~models.Q(schedule__in=["after_created", "member_days"])
                                   | models.Q(offset_days__isnull=False), name="groupnode_offset_when_needed"),
            models.CheckConstraint(condition=models.Q(kind="milestone_100_days", schedule="member_days")
                                   | (~models.Q(kind="milestone_100_days") & ~models.Q(schedule="member_days")),
                                   name="groupnode_milestone_schedule"),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self):
        errors = {}
        if self.schedule == GroupSchedule.WEEKLY and not self.weekday:
            errors["weekday"] = "每周任务须选择星期 A weekly node needs a weekday."
        if self.schedule in (GroupSchedule.AFTER_CREATED, GroupSchedule.MEMBER_DAYS) and self.offset_days is None:
            errors["offset_days"] = "请填写N天 Fill in N days."
        if (self.kind == GroupTaskKind.MILESTONE_100_DAYS) != (self.schedule == GroupSchedule.MEMBER_DAYS):
            errors["schedule"] = ("入群100天任务须用「成员入群满N天」频率，其他类型不可用 The 100-days milestone uses "
                                  "'a member's N days in the group', and only it does.")
        if self.coupon_template_id and self.kind != GroupTaskKind.COUPON_DROP:
            errors["coupon_template"] = "只有群专属券任务带券 Only a coupon drop carries a coupon."
        if self.ends_on and self.starts_on and self.ends_on < self.starts_on:
            errors["ends_on"] = "结束日期须不早于开始日期 The end date must not be before the start date."
        if errors:
            raise ValidationError(errors)

    @property
    def kind_short(self) -> str:
        return self.get_kind_display().split(" ")[0]

    @property
    def schedule_label(self) -> str:
        if self.schedule == GroupSchedule.WEEKLY and self.weekday:
            return f"每周 Weekly · {Weekday(self.weekday).label}"
        if self.schedule == GroupSchedule.AFTER_CREATED:
            return f"建群后第{self.offset_days}天 Day {self.offset_days} after creation"
        if self.schedule == GroupSchedule.MEMBER_DAYS:
            return f"成员入群满{self.offset_days}天 A member's day {self.offset_days}"
        return self.get_schedule_display()
