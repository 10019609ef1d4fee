"""Brand schema: handovers of a guide's customers to successors (离职继承 / 在职继承).

One :class:`Handover` per departed guide (or per on-job transfer a brand manager submits), one
:class:`HandoverItem` per customer. Every count shown anywhere is derived from the items' states,
so a report always adds up to its total.
"""

from django.db import models

from guides.models import Guide
from members.models import Member


class HandoverKind(models.TextChoices):
    RESIGNED = "resigned", "离职继承 Resigned"
    ONJOB = "onjob", "在职继承 On-job"


class HandoverStatus(models.TextChoices):
    NEEDS_SUCCESSOR = "needs_successor", "待指定接替人 Needs successor"
    TRANSFERRING = "transferring", "转接中 Transferring"
    WAITING_RESULTS = "waiting_results", "等待接替 Waiting for results"
    DONE = "done", "已完成 Done"


class ItemState(models.TextChoices):
    PENDING = "pending", "待提交 Pending"
    SUBMITTED = "submitted", "提交中 Submitted"
    WAITING = "waiting", "等待接替 Waiting"
    TAKEN_OVER = "taken_over", "接替完毕 Taken over"
    REFUSED = "refused", "客户拒绝 Refused"
    SUCCESSOR_AT_LIMIT = "successor_at_limit", "接替人客户已满 Successor at limit"
    FAILED = "failed", "失败 Failed"
    NO_RELATIONSHIP = "no_relationship", "无好友关系 No relationship"


OPEN_STATES = (ItemState.PENDING, ItemState.SUBMITTED, ItemState.WAITING)
FINAL_STATES = (ItemState.TAKEN_OVER, ItemState.REFUSED, ItemState.SUCCESSOR_AT_LIMIT, ItemState.FAILED,
                ItemState.NO_RELATIONSHIP)


class Handover(models.Model):
    """A handover (客户继承) of one guide's customers: a resigned guide's (离职继承, one per guide)
    or a brand manager's on-job move between active guides (在职继承)."""

    kind = models.CharField("类型 Kind", max_length=10, choices=HandoverKind.choices, default=HandoverKind.RESIGNED)
    guide = models.ForeignKey(Guide, on_delete=models.PROTECT, related_name="+", verbose_name="原导购 Departed guide")
    status = models.CharField("状态 Status", max_length=20, choices=HandoverStatus.choices,
                              default=HandoverStatus.TRANSFERRING)
    source = models.CharField("发起来源 Source", max_length=40, blank=True)
    message = models.CharField("转接提示语 Transfer message", max_length=200, blank=True)
    excluded_successors = models.JSONField("不可用接替人 Excluded successors", default=list, blank=True,
                                           help_text="Guide ids WeCom said are full or cannot take over")
    created_by = models.CharField("发起人 Created by", max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField("完成时间 Finished", null=True, blank=True)

    class Meta:
        verbose_name = "客户继承 Handover"
        verbose_name_plural = "客户继承 Handovers"
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["guide"], condition=models.Q(kind="resigned"),
                                               name="handover_one_resigned_per_guide")]

    def __str__(self) -> str:
        return f"Handover {self.pk} ({self.kind}) of guide {self.guide_id}"


class HandoverItem(models.Model):
    """One customer of a handover: who takes them over and how far WeCom got (per-customer state)."""

    handover = models.ForeignKey(Handover, on_delete=models.CASCADE, related_name="items",
                                 verbose_name="继承 Handover")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="+", verbose_name="会员 Member")
    external_userid = models.CharField("外部联系人ID External userid", max_length=64, blank=True)
    successor = models.ForeignKey(Guide, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                  verbose_name="接替导购 Successor")
    state = models.CharField("状态 State", max_length=20, choices=ItemState.choices, default=ItemState.PENDING)
    errcode = models.IntegerField("错误码 Errcode", null=True, blank=True)
    wecom_status = models.PositiveSmallIntegerField("企微接替状态 WeCom status", null=True, blank=True)
    attempts = models.PositiveSmallIntegerField("提交次数 Submissions", default=0)
    limit_hits = models.PositiveSmallIntegerField("接替人已满次数 Successor-full hits", default=0)
    from_relationship_id = models.BigIntegerField("原关系 From relationship", null=True, blank=True)
    to_relationship_id = models.BigIntegerField("新关系 To relationship", null=True, blank=True)
    original_added_at = models.DateTimeField("原添加时间 Original added at (lifecycle day 0)", null=True, blank=True)
    next_attempt_at = models.DateTimeField("下次提交 Next attempt", null=True, blank=True)
    submitted_at = models.DateTimeField("提交时间 Submitted", null=True, blank=True)
    takeover_time = models.DateTimeField("预计/实际接替时间 Takeover time", null=True, blank=True)
    finished_at = models.DateTimeField("完成时间 Finished", null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "继承客户 Handover customer"
        verbose_name_plural = "继承客户 Handover customers"
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["handover", "member"], name="handoveritem_one_per_member")]
        indexes = [models.Index(fields=["handover", "state", "successor"], name="handoveritem_work"),
                   models.Index(fields=["successor", "state"], name="handoveritem_successor"),
                   models.Index(fields=["member", "state"], name="handoveritem_member")]

    def __str__(self) -> str:
        return f"{self.handover_id}: {self.member_id} -> {self.successor_id} ({self.state})"


class HandoverGroup(models.Model):
    """A customer group (客户群) of the departed guide handed to a new owner (groupchat/transfer)."""

    handover = models.ForeignKey(Handover, on_delete=models.CASCADE, related_name="groups",
                                 verbose_name="继承 Handover")
    chat_id = models.CharField("群ID Chat id", max_length=64)
    new_owner = models.ForeignKey(Guide, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                  verbose_name="新群主 New owner")
    state = models.CharField("状态 State", max_length=20, default="pending",
                             choices=[("pending", "待转移 Pending"), ("submitted", "提交中 Submitted"),
                                      ("done", "已转移 Done"), ("failed", "失败 Failed")])
    errcode = models.IntegerField("错误码 Errcode", null=True, blank=True)
    submitted_at = models.DateTimeField("提交时间 Submitted", null=True, blank=True)

    class Meta:
        verbose_name = "继承客户群 Handover group"
        verbose_name_plural = "继承客户群 Handover groups"
        constraints = [models.UniqueConstraint(fields=["handover", "chat_id"], name="handovergroup_one_per_chat")]

    def __str__(self) -> str:
        return f"{self.handover_id}: {self.chat_id} ({self.state})"
