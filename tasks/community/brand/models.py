"""Brand schema: the group tasks (群任务) issued to the owners of the brand's customer groups, and the brand's
switch-offs of optional HQ group nodes.

Not a ``tasks.GuideTask``: that one is about one customer (its once-only key names a member); a group task is
about a whole group. Its once-only key is (group, node, period), ``period`` naming the occurrence (its day), so
running the generation twice, or catching up missed days, never issues a task twice.
"""

from django.db import models

from guides.brand.models import CustomerGroup
from guides.models import Guide
from members.models import CouponTemplate
from tasks.community.models import GroupNode, GroupTaskKind


class GroupNodeSwitchOff(models.Model):
    """The brand switched an optional HQ group node off: no new tasks from it (issued ones stay)."""

    node = models.OneToOneField(GroupNode, on_delete=models.CASCADE, related_name="+",
                                verbose_name="总部群任务节点 HQ group node")
    switched_by = models.CharField("操作人 By", max_length=120, blank=True)
    switched_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "关闭的总部群任务 Switched-off HQ group node"
        verbose_name_plural = "关闭的总部群任务 Switched-off HQ group nodes"

    def __str__(self) -> str:
        return str(self.node_id)


class GroupTaskState(models.TextChoices):
    OPEN = "open", "待完成 Open"
    DONE = "done", "已完成 Done"
    EXPIRED = "expired", "已过期 Expired"
    CANCELLED = "cancelled", "已取消 Cancelled"


class GroupTask(models.Model):
    """One thing a group owner (群主, a guide) should do in one customer group (群任务), e.g. Friday's coupon drop.

    Content and reward are copied from the HQ node when issued. ``occurs_on`` is the occurrence's day (the
    ``period``); ``late`` means it was issued after that day (the engine was down then). ``subjects`` names, for
    the 100-days milestone, the members who reached it (at most 50; ``subjects_count`` has them all). The task
    follows the group: a new owner takes its open tasks over, a dismissed group's open tasks are cancelled.
    ``reward_credited_at`` is set once, when the reward is credited.
    """

    group = models.ForeignKey(CustomerGroup, on_delete=models.PROTECT, related_name="+", verbose_name="客户群 Group")
    node = models.ForeignKey(GroupNode, on_delete=models.PROTECT, related_name="+", verbose_name="节点 Node")
    period = models.CharField("周期 Period", max_length=20)
    guide = models.ForeignKey(Guide, on_delete=models.PROTECT, related_name="+", verbose_name="群主 Owner guide")
    kind = models.CharField("类型 Kind", max_length=20, choices=GroupTaskKind.choices)
    title = models.CharField("标题 Title", max_length=100)
    guide_notes = models.TextField("怎么做 How to", blank=True)
    script = models.TextField("群话术 Script", blank=True)
    coupon_template = models.ForeignKey(CouponTemplate, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="+", verbose_name="商场券 Mall coupon")
    subjects = models.JSONField("涉及成员 Members concerned", default=list, blank=True)
    subjects_count = models.PositiveIntegerField("涉及人数 Members concerned (count)", default=0)
    occurs_on = models.DateField("任务日 Day")
    issued_on = models.DateField("下发日 Issued on")
    due_on = models.DateField("截止日 Due on")
    state = models.CharField("状态 State", max_length=10, choices=GroupTaskState.choices,
                             default=GroupTaskState.OPEN)
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
        verbose_name = "群任务 Group task"
        verbose_name_plural = "群任务 Group tasks"
        ordering = ["due_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["group", "node", "period"], name="grouptask_once"),
            models.CheckConstraint(condition=models.Q(state="done", completed_at__isnull=False)
                                   | ~models.Q(state="done"), name="grouptask_done_has_time"),
        ]
        indexes = [
            models.Index(fields=["guide", "due_on"], name="grouptask_guide_open", condition=models.Q(state="open")),
            models.Index(fields=["group", "state"], name="grouptask_group_state"),
            models.Index(fields=["due_on"], name="grouptask_open_due", condition=models.Q(state="open")),
        ]

    def __str__(self) -> str:
        return f"{self.title} @ {self.group_id}"

    @property
    def kind_short(self) -> str:
        """The kind's Chinese name alone, for a badge on a 375px card."""
        return self.get_kind_display().split(" ")[0]
