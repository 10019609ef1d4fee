"""Brand schema: the brand's own lifecycle nodes, its switch-offs of optional HQ nodes, its event-trigger
settings and the guide tasks (导购任务) the engine issues.

A task is unique on (source, member, ref, period): ``ref`` names the node or trigger ("hq:d7",
"brand:12", "trigger:birthday") and ``period`` the occurrence (the lifecycle's day 0, a birthday's year,
a tier change's id, ...). The engine inserts with ON CONFLICT DO NOTHING on that key, so running it
twice, or catching up missed days, never issues a task twice.
"""

from django.db import models

from guides.brand.models import Relationship
from guides.models import Guide
from members.brand.models import BrandCouponTemplate
from members.models import CouponTemplate, Member
from tasks.mall.models import ProgramNode, TaskType


class BrandNode(models.Model):
    """A lifecycle node the brand adds to the HQ program (any day offset after the first add)."""

    day_offset = models.PositiveSmallIntegerField("第几天 Day offset")
    task_type = models.CharField("任务类型 Task type", max_length=20, choices=TaskType.choices, default=TaskType.CARE)
    title = models.CharField("标题 Title", max_length=100)
    script = models.TextField("话术 Script", max_length=2000, help_text="{name} = the customer's name")
    coupon_template = models.ForeignKey(BrandCouponTemplate, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="+", verbose_name="券 Coupon")
    due_window_days = models.PositiveSmallIntegerField("完成期限(天) Due window (days)", default=3)
    reward_coins = models.PositiveIntegerField("金币奖励 Coins", default=0)
    reward_exp = models.PositiveIntegerField("经验奖励 Experience", default=0)
    is_active = models.BooleanField("启用 Active", default=True)
    created_by = models.CharField("创建人 Created by", max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "品牌节点 Brand node"
        verbose_name_plural = "品牌节点 Brand nodes"
        ordering = ["day_offset", "id"]
        constraints = [models.CheckConstraint(condition=models.Q(due_window_days__gte=1),
                                              name="brandnode_window_positive")]

    def __str__(self) -> str:
        return f"D{self.day_offset} {self.title}"


class NodeSwitchOff(models.Model):
    """The brand switched an optional HQ node off (by its stable key, so it stays off across versions)."""

    node_key = models.SlugField("总部节点 HQ node key", max_length=30, unique=True)
    switched_by = models.CharField("操作人 By", max_length=120, blank=True)
    switched_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "关闭的总部节点 Switched-off HQ node"
        verbose_name_plural = "关闭的总部节点 Switched-off HQ nodes"

    def __str__(self) -> str:
        return self.node_key


class TriggerKind(models.TextChoices):
    BIRTHDAY = "birthday", "生日前N天 Birthday (N days before)"
    TIER_UPGRADE = "tier_upgrade", "等级提升 Tier upgrade"
    POINTS_EXPIRING = "points_expiring", "积分N天内到期 Points expiring within N days"
    COUPON_EXPIRING = "coupon_expiring", "券N天内到期 Coupon expiring within N days"
    COUPON_VIEWED_UNUSED = "coupon_viewed_unused", "看券N小时未用 Coupon viewed, unused after N hours"
    DORMANT = "dormant", "N天无互动 Dormant for N days"
    GROUP_100_DAYS = "group_100_days", "入群N天 N days in a customer group"


class TriggerConfig(models.Model):
    """A brand's setting for one event trigger (事件触发): on/off, its N, and what the guide sends."""

    kind = models.CharField("触发器 Trigger", max_length=30, choices=TriggerKind.choices, unique=True)
    is_enabled = models.BooleanField("启用 Enabled", default=True)
    offset = models.PositiveIntegerField("N (天/小时 days or hours)")
    title = models.CharField("标题 Title", max_length=100)
    script = models.TextField("话术 Script", max_length=2000)
    coupon_template = models.ForeignKey(BrandCouponTemplate, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="+", verbose_name="券 Coupon")
    due_window_days = models.PositiveSmallIntegerField("完成期限(天) Due window (days)", default=3)
    reward_coins = models.PositiveIntegerField("金币奖励 Coins", default=0)
    reward_exp = models.PositiveIntegerField("经验奖励 Experience", default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "事件触发设置 Trigger setting"
        verbose_name_plural = "事件触发设置 Trigger settings"
        ordering = ["kind"]
        constraints = [models.CheckConstraint(condition=models.Q(due_window_days__gte=1),
                                              name="triggerconfig_window_positive")]

    def __str__(self) -> str:
        return self.get_kind_display()


class TaskSource(models.TextChoices):
    LIFECYCLE = "lifecycle", "生命周期 Lifecycle"
    TRIGGER = "trigger", "事件触发 Trigger"


class TaskState(models.TextChoices):
    OPEN = "open", "待完成 Open"
    DONE = "done", "已完成 Done"
    EXPIRED = "expired", "已过期 Expired"
    CANCELLED = "cancelled", "已取消 Cancelled"


class GuideTask(models.Model):
    """One thing a guide should do for one customer (导购任务), e.g. day 7 of the 28-day habit.

    Content and reward are copied from the node or trigger when issued. ``late`` means it was issued after
    its day (the engine was down then). ``reward_credited_at`` is set once, when the reward is credited.
    """

    source = models.CharField("来源 Source", max_length=12, choices=TaskSource.choices)
    ref = models.CharField("节点/触发器 Node or trigger", max_length=40)
    period = models.CharField("周期 Period", max_length=40)
    guide = models.ForeignKey(Guide, on_delete=models.PROTECT, related_name="+", verbose_name="导购 Guide")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="+", verbose_name="会员 Member")
    relationship = models.ForeignKey(Relationship, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+", verbose_name="关系 Relationship")
    hq_node = models.ForeignKey(ProgramNode, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                verbose_name="总部节点 HQ node")
    brand_node = models.ForeignKey(BrandNode, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                   verbose_name="品牌节点 Brand node")
    trigger_kind = models.CharField("触发器 Trigger", max_length=30, choices=TriggerKind.choices, blank=True)
    lifecycle_day = models.PositiveSmallIntegerField("生命周期第几天 Lifecycle day", null=True, blank=True)
    task_type = models.CharField("任务类型 Task type", max_length=20, choices=TaskType.choices)
    title = models.CharField("标题 Title", max_length=100)
    script = models.TextField("话术 Script", blank=True)
    mall_coupon_template = models.ForeignKey(CouponTemplate, null=True, blank=True, on_delete=models.PROTECT,
                                             related_name="+", verbose_name="商场券 Mall coupon")
    brand_coupon_template = models.ForeignKey(BrandCouponTemplate, null=True, blank=True, on_delete=models.PROTECT,
                                              related_name="+", verbose_name="品牌券 Brand coupon")
    issued_on = models.DateField("下发日 Issued on")
    due_on = models.DateField("截止日 Due on", db_index=True)
    state = models.CharField("状态 State", max_length=10, choices=TaskState.choices, default=TaskState.OPEN)
    late = models.BooleanField("补发 Late", default=False)
    completed_at = models.DateTimeField("完成时间 Completed", null=True, blank=True)
    completed_by = models.CharField("完成方式 Completed by", max_length=40, blank=True,
                                    help_text="guide, or auto:<evidence>")
    evidence = models.JSONField("凭证 Evidence", default=dict, blank=True)
    note = models.TextField("备注 Note", max_length=1000, blank=True)
    reward_coins = models.PositiveIntegerField("金币奖励 Coins", default=0)
    reward_exp = models.PositiveIntegerField("经验奖励 Experience", default=0)
    reward_credited_at = models.DateTimeField("奖励发放 Reward credited", null=True, blank=True)
    closed_at = models.DateTimeField("关闭时间 Closed (expired/cancelled)", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "导购任务 Guide task"
        verbose_name_plural = "导购任务 Guide tasks"
        ordering = ["due_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "member", "ref", "period"], name="guidetask_once"),
            models.CheckConstraint(condition=models.Q(state="done", completed_at__isnull=False)
                                   | ~models.Q(state="done"), name="guidetask_done_has_time"),
        ]
        indexes = [
            models.Index(fields=["guide", "state", "due_on"], name="guidetask_guide_open",
                         condition=models.Q(state="open")),
            models.Index(fields=["member", "state"], name="guidetask_member_state"),
            models.Index(fields=["issued_on"], name="guidetask_issued_on"),
            # the dormant trigger's "task done in the window" (tasks.triggers)
            models.Index(fields=["completed_at"], name="guidetask_done_at", condition=models.Q(state="done")),
            # done tasks whose reward is not credited yet (tasks.services.rewards_credit_due, every run): the
            # run reads those, not every done task of the brand's history
            models.Index(fields=["id"], name="guidetask_reward_due",
                         condition=models.Q(state="done", reward_credited_at__isnull=True)
                         & (models.Q(reward_coins__gt=0) | models.Q(reward_exp__gt=0))),
        ]

    def __str__(self) -> str:
        return f"{self.title} -> {self.member_id}"


class EngineRun(models.Model):
    """One run of the engine for one day in this brand: what it did, and the watermark for the next run.

    A finished run for day D means every lifecycle node whose day is <= D has been considered for every
    relationship that existed when the run started; the next run only looks past that.

    A large brand's run is split into ``parts`` jobs (EnginePart, tasks.engine.split_plan): the run is created
    unfinished with the watermark all its parts use (``after``, ``since``, ``seen_relationship_id``) and finished
    by the last part.
    """

    day = models.DateField("日期 Day")
    started_at = models.DateTimeField("开始 Started")
    max_relationship_id = models.BigIntegerField("最大关系ID Highest relationship id seen", default=0)
    parts = models.PositiveSmallIntegerField("分片数 Parts", default=0, db_default=0, help_text="0: the brand in one job")
    after = models.DateField("补发起点 Catch-up after", null=True, blank=True)
    since = models.DateTimeField("新增起点 Adds since", null=True, blank=True)
    seen_relationship_id = models.BigIntegerField("已见关系ID Relationships seen up to", default=0, db_default=0)
    finished_at = models.DateTimeField("结束 Finished", null=True, blank=True)
    created = models.PositiveIntegerField("新建任务 Created", default=0)
    cancelled = models.PositiveIntegerField("取消 Cancelled", default=0)
    expired = models.PositiveIntegerField("过期 Expired", default=0)
    completed = models.PositiveIntegerField("自动完成 Auto-completed", default=0)

    class Meta:
        verbose_name = "引擎运行 Engine run"
        verbose_name_plural = "引擎运行 Engine runs"
        ordering = ["-id"]
        indexes = [models.Index(fields=["day"], name="enginerun_day", condition=models.Q(finished_at__isnull=False))]

    def __str__(self) -> str:
        return f"{self.day} +{self.created}"


class EnginePart(models.Model):
    """One job of a large brand's split run: the lifecycle and trigger tasks of the members in
    [member_from, member_to) (None: unbounded). ``finished_at`` is set in the transaction that issued them."""

    run = models.ForeignKey(EngineRun, on_delete=models.CASCADE, related_name="part_set")
    number = models.PositiveSmallIntegerField("序号 Number")
    member_from = models.BigIntegerField("会员ID起 Members from", null=True, blank=True)
    member_to = models.BigIntegerField("会员ID止 Members to (excluded)", null=True, blank=True)
    created = models.PositiveIntegerField("新建任务 Created", default=0)
    finished_at = models.DateTimeField("结束 Finished", null=True, blank=True)

    class Meta:
        verbose_name = "引擎分片 Engine part"
        verbose_name_plural = "引擎分片 Engine parts"
        constraints = [models.UniqueConstraint(fields=["run", "number"], name="enginepart_once")]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.number}"
