"""Brand schema: which guide serves which customer (the WeCom external-contact relationship), and the
customer groups (客户群) the brand's guides own."""

from django.contrib.postgres.fields import ArrayField
from django.db import models

from guides.models import Guide
from members.models import Member
from tenants.models import Store


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
    # What the guide keeps about this customer in the WeCom client (follow_info); kept in step by
    # edit_external_contact, the full sync and the nightly reconcile.
    remark = models.CharField("备注 Remark", max_length=64, blank=True, default="", db_default="")
    description = models.CharField("描述 Description", max_length=255, blank=True, default="", db_default="")
    tag_ids = ArrayField(models.CharField(max_length=64), default=list, blank=True, verbose_name="企业标签 Corp tag ids",
                         db_default=models.Value([], output_field=ArrayField(models.CharField(max_length=64))))

    class Meta:
        verbose_name = "导购客户关系 Relationship"
        verbose_name_plural = "导购客户关系 Relationships"
        constraints = [models.UniqueConstraint(fields=["guide", "member"], name="relationship_one_per_pair")]
        indexes = [models.Index(fields=["guide", "status", "-added_at"])]

    def __str__(self) -> str:
        return f"{self.guide_id} -> {self.member_id}"


class CustomerGroupStatus(models.TextChoices):
    NORMAL = "normal", "正常 Normal"
    DISMISSED = "dismissed", "已解散 Dismissed"


class CustomerGroup(models.Model):
    """A WeCom customer group (客户群) whose owner (群主) is one of the brand's guides.

    Kept in step with WeCom by the change_external_chat callbacks (each re-reads the group) and the
    full sync. ``member_version`` is WeCom's; a callback whose LastMemVer differs from it means an
    event was lost, which the re-read repairs. ``wecom_status`` is WeCom's inheritance status
    (0 normal, 1 owner resigned, 2 being inherited, 3 inherited).
    """

    chat_id = models.CharField("群ID Chat id", max_length=64, unique=True)
    name = models.CharField("群名 Name", max_length=100, blank=True)
    owner = models.ForeignKey(Guide, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                              verbose_name="群主 Owner")
    owner_userid = models.CharField("群主账号 Owner userid", max_length=64, blank=True)
    notice = models.TextField("群公告 Notice", blank=True)
    status = models.CharField("状态 Status", max_length=10, choices=CustomerGroupStatus.choices,
                              default=CustomerGroupStatus.NORMAL)
    wecom_status = models.PositiveSmallIntegerField("继承状态 WeCom status", default=0)
    member_version = models.CharField("成员版本 Member version", max_length=64, blank=True)
    member_count = models.PositiveIntegerField("成员数 Members", default=0)
    customer_count = models.PositiveIntegerField("客户数 Customers", default=0)
    store = models.ForeignKey(Store, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              verbose_name="门店 Store")
    brand_tags = ArrayField(models.CharField(max_length=30), default=list, blank=True,
                            verbose_name="品牌标签 Brand tags")
    interest_tags = ArrayField(models.CharField(max_length=30), default=list, blank=True,
                               verbose_name="兴趣标签 Interest tags")
    created_at = models.DateTimeField("建群时间 Created", null=True, blank=True)
    synced_at = models.DateTimeField("同步时间 Synced", null=True, blank=True)
    dismissed_at = models.DateTimeField("解散时间 Dismissed", null=True, blank=True)

    class Meta:
        verbose_name = "客户群 Customer group"
        verbose_name_plural = "客户群 Customer groups"
        ordering = ["-id"]
        indexes = [models.Index(fields=["owner", "status"], name="customergroup_owner")]

    def __str__(self) -> str:
        return self.name or self.chat_id


class CustomerGroupMemberType(models.TextChoices):
    MEMBER = "member", "企业成员 Staff"
    EXTERNAL = "external", "外部联系人 Customer"


class CustomerGroupMember(models.Model):
    """Someone in a customer group: a WeCom member (staff) or an external contact (customer).

    ``member`` is the mall member when the customer's external_userid is known; ``left_at`` is
    set when they leave (the row stays, so joins and leaves can be counted).
    """

    group = models.ForeignKey(CustomerGroup, on_delete=models.CASCADE, related_name="members",
                              verbose_name="客户群 Group")
    userid = models.CharField("成员账号/外部联系人ID Userid or external userid", max_length=64)
    type = models.CharField("类型 Type", max_length=10, choices=CustomerGroupMemberType.choices)
    member = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                               verbose_name="会员 Member")
    name = models.CharField("名称 Name", max_length=64, blank=True)
    unionid = models.CharField("UnionID", max_length=64, blank=True)
    join_time = models.DateTimeField("入群时间 Joined", null=True, blank=True)
    join_scene = models.PositiveSmallIntegerField("入群方式 Join scene", default=0,
                                                  help_text="1 direct invite, 2 invite link, 3 QR code")
    invitor_userid = models.CharField("邀请人 Invitor", max_length=64, blank=True)
    state = models.CharField("渠道码 State", max_length=30, blank=True)
    left_at = models.DateTimeField("退群时间 Left", null=True, blank=True)

    class Meta:
        verbose_name = "客户群成员 Customer group member"
        verbose_name_plural = "客户群成员 Customer group members"
        constraints = [models.UniqueConstraint(fields=["group", "userid"], name="groupmember_one_per_group")]
        indexes = [models.Index(fields=["member"], name="groupmember_member")]

    def __str__(self) -> str:
        return f"{self.group_id}: {self.userid}"
