"""Brand schema: the member's membership of this brand, and the brand's own coupons."""

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models

from guides.models import Guide
from members.models import CouponBase, CouponTemplateBase, Member


class BrandMemberStatus(models.TextChoices):
    ACTIVE = "active", "有效 Active"
    LEFT = "left", "已退会 Left"


class BrandMember(models.Model):
    """The brand membership (品牌会员) of a mall member: the 'dual' in 一码双会员."""

    member = models.OneToOneField(Member, on_delete=models.PROTECT, related_name="+", verbose_name="会员 Member")
    joined_at = models.DateTimeField("入会时间 Joined", db_index=True)
    source_guide = models.ForeignKey(Guide, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                     verbose_name="来源导购 Source guide")
    source_channel = models.CharField("来源渠道 Source channel", max_length=64, blank=True)
    tags = ArrayField(models.CharField(max_length=30), default=list, blank=True, verbose_name="标签 Tags")
    notes = models.TextField("备注 Notes", blank=True)
    status = models.CharField("状态 Status", max_length=10, choices=BrandMemberStatus.choices,
                              default=BrandMemberStatus.ACTIVE)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "品牌会员 Brand member"
        verbose_name_plural = "品牌会员 Brand members"
        indexes = [GinIndex(fields=["tags"], name="brandmember_tags_gin")]

    def __str__(self) -> str:
        return f"BrandMember {self.member_id}"


class BrandCouponTemplate(CouponTemplateBase):
    """A brand's own coupon (品牌券), usable only at that brand."""

    class Meta:
        verbose_name = "品牌券模板 Brand coupon template"
        verbose_name_plural = "品牌券模板 Brand coupon templates"


class BrandCoupon(CouponBase):
    template = models.ForeignKey(BrandCouponTemplate, on_delete=models.PROTECT, related_name="coupons")

    class Meta:
        verbose_name = "品牌券 Brand coupon"
        verbose_name_plural = "品牌券 Brand coupons"
        indexes = [models.Index(fields=["member", "state"]), models.Index(fields=["state", "valid_until"])]
