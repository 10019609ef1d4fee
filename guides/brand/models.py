"""Brand schema: which guide serves which customer (the WeCom external-contact relationship)."""

from django.db import models

from guides.models import Guide
from members.models import Member


class RelationshipStatus(models.TextChoices):
    ACTIVE = "active", "服务中 Active"
    ENDED = "ended", "已结束 Ended"


class Relationship(models.Model):
    """A guide-customer relationship (导购-客户关系). ``added_at`` is lifecycle day 0."""

    guide = models.ForeignKey(Guide, on_delete=models.PROTECT, related_name="+", verbose_name="导购 Guide")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="+", verbose_name="会员 Member")
    external_userid = models.CharField("外部联系人ID External userid", max_length=64, blank=True)
    channel = models.CharField("渠道 Channel", max_length=64, blank=True)
    state = models.CharField("活码State Contact-way state", max_length=64, blank=True, default="", db_default="",
                             help_text="As WeCom sent it; the channel is derived from it")
    readded_count = models.PositiveSmallIntegerField("重新添加次数 Re-adds", default=0, db_default=0)
    added_at = models.DateTimeField("添加时间 Added at")
    status = models.CharField("状态 Status", max_length=10, choices=RelationshipStatus.choices,
                              default=RelationshipStatus.ACTIVE)
    ended_at = models.DateTimeField("结束时间 Ended at", null=True, blank=True)
    ended_reason = models.CharField("结束原因 Ended reason", max_length=40, blank=True)

    class Meta:
        verbose_name = "导购客户关系 Relationship"
        verbose_name_plural = "导购客户关系 Relationships"
        constraints = [models.UniqueConstraint(fields=["guide", "member"], name="relationship_one_per_pair")]
        indexes = [models.Index(fields=["guide", "status", "-added_at"])]

    def __str__(self) -> str:
        return f"{self.guide_id} -> {self.member_id}"
