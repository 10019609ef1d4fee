"""Public schema: the newbie checklist (新手任务) the mall sets for new guides, and each guide's progress.

The mall (HQ) owns the steps, the way it owns the coins ledger the rewards are paid into; a guide's
progress is kept next to them, one row per guide and step, and moved only by the services in
``tasks.newbie.services``: set-based refreshes that read the evidence in the guide's brand schema (customers
added, lifecycle tasks done), the public share links, WeCom's Moments list, or the guide's own tap.
The rows hold counts and WeCom/public ids only, never a brand's customer data.
"""

from django.db import models

from guides.models import Guide


class NewbieEvidence(models.TextChoices):
    """How a step is known to be done. Every kind but "confirm" is checked by the platform itself."""

    CONFIRM = "confirm", "导购一键确认 Guide confirms (no evidence exists)"
    CUSTOMERS_ADDED = "customers_added", "添加客户（自动）Customers added (auto)"
    WECOM_MOMENT = "wecom_moment", "发布朋友圈（企业微信核验）Moment posted (checked in WeCom)"
    LIFECYCLE_TASK_DONE = "lifecycle_task_done", "完成生命周期任务（自动）Lifecycle tasks done (auto)"
    SHARE_LINK = "share_link", "生成专属链接（自动）Share links made (auto)"


# Kinds that count things: only these may have a target above 1; the refresh counts them in SQL.
COUNTED = (NewbieEvidence.CUSTOMERS_ADDED, NewbieEvidence.LIFECYCLE_TASK_DONE, NewbieEvidence.SHARE_LINK)


class NewbieStep(models.Model):
    """A step of the newbie checklist every new guide plays through on the sidebar's "today" page.

    Each step done pays its coins and experience once: the ledger entry's key is (guide, "newbie", ``key``),
    so ``key`` must never be given to a different step. Steps are switched off, never deleted (progress
    rows refer to them).
    """

    key = models.SlugField("标识 Key", max_length=30, unique=True,
                           help_text="Stable: the reward ledger uses it. Never reuse a key for another step.")
    title = models.CharField("标题 Title (中文)", max_length=40)
    title_en = models.CharField("英文标题 Title (English)", max_length=60)
    hint = models.CharField("怎么做 How to", max_length=200, blank=True,
                            help_text="One line under the step: 中文 first, then English")
    evidence = models.CharField("完成依据 Evidence", max_length=30, choices=NewbieEvidence.choices,
                                help_text="If the corp's WeCom app may not read customer Moments (客户朋友圈), "
                                          "switch the Moment step to 'Guide confirms'.")
    target = models.PositiveSmallIntegerField("目标数量 Target", default=1,
                                              help_text="How many customers / tasks / links; 1 for the other kinds")
    reward_coins = models.PositiveIntegerField("金币奖励 Coins", default=0)
    reward_exp = models.PositiveIntegerField("经验奖励 Experience", default=0)
    position = models.PositiveSmallIntegerField("顺序 Order", default=0)
    is_active = models.BooleanField("启用 Active", default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "新手任务步骤 Newbie step"
        verbose_name_plural = "新手任务步骤 Newbie steps"
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(target__gte=1), name="newbiestep_target_positive"),
            models.CheckConstraint(condition=models.Q(target=1) | models.Q(evidence__in=[k.value for k in COUNTED]),
                                   name="newbiestep_target_only_when_counted"),
        ]

    def __str__(self) -> str:
        return f"{self.title} {self.title_en}"

    def clean(self):
        from django.core.exceptions import ValidationError

        if self.target and self.target > 1 and self.evidence not in COUNTED:
            raise ValidationError({"target": "只有计数类步骤（客户、任务、链接）可设目标大于1 · Only counted steps "
                                             "(customers, tasks, links) may have a target above 1."})


class NewbieProgress(models.Model):
    """One new guide's progress on one step (新手任务进度).

    ``count`` is what the evidence shows so far (for counted steps); ``done_at`` is set once and never cleared,
    with ``completed_by`` ("guide" or "auto:<evidence>") and what proved it. The reward is copied from the step
    when the step is done and credited once (``reward_credited_at``).
    """

    guide = models.ForeignKey(Guide, on_delete=models.PROTECT, related_name="newbie_progress",
                              verbose_name="导购 Guide")
    step = models.ForeignKey(NewbieStep, on_delete=models.PROTECT, related_name="progress",
                             verbose_name="步骤 Step")
    count = models.PositiveIntegerField("进度 Count", default=0)
    done_at = models.DateTimeField("完成时间 Done", null=True, blank=True)
    completed_by = models.CharField("完成方式 Completed by", max_length=40, blank=True,
                                    help_text="guide, or auto:<evidence>")
    evidence = models.JSONField("凭证 Evidence", default=dict, blank=True)
    reward_coins = models.PositiveIntegerField("金币奖励 Coins", default=0)
    reward_exp = models.PositiveIntegerField("经验奖励 Experience", default=0)
    reward_credited_at = models.DateTimeField("奖励发放 Reward credited", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "新手任务进度 Newbie progress"
        verbose_name_plural = "新手任务进度 Newbie progress"
        ordering = ["guide_id", "step_id"]
        constraints = [
            models.UniqueConstraint(fields=["guide", "step"], name="newbieprogress_once"),
            models.CheckConstraint(condition=models.Q(reward_credited_at__isnull=True)
                                   | models.Q(done_at__isnull=False), name="newbieprogress_credit_after_done"),
        ]
        indexes = [models.Index(fields=["guide"], name="newbieprogress_to_credit",
                                condition=models.Q(done_at__isnull=False, reward_credited_at__isnull=True))]

    def __str__(self) -> str:
        return f"{self.guide_id}:{self.step_id} {'✓' if self.done_at else self.count}"
