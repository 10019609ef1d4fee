"""The guide directory (public): WeCom userid -> brand and counter, so callbacks route without a brand."""

from django.db import models

from tenants.models import Brand, Counter


class GuideStatus(models.TextChoices):
    ACTIVE = "active", "在职 Active"
    RESIGNED = "resigned", "离职 Resigned"


class Guide(models.Model):
    """A brand's sales associate (导购) who adds customers as WeCom external contacts."""

    wecom_userid = models.CharField("企业微信账号 WeCom userid", max_length=64, unique=True)
    name = models.CharField("姓名 Name", max_length=50)
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="guides", verbose_name="品牌 Brand")
    counter = models.ForeignKey(
        Counter, null=True, blank=True, on_delete=models.PROTECT, related_name="guides", verbose_name="专柜 Counter"
    )
    status = models.CharField("状态 Status", max_length=20, choices=GuideStatus.choices, default=GuideStatus.ACTIVE)
    hired_on = models.DateField("入职日期 Hired on")
    resigned_on = models.DateField("离职日期 Resigned on", null=True, blank=True)
    avatar_url = models.URLField("头像 Avatar", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "导购 Guide"
        verbose_name_plural = "导购 Guides"
        ordering = ["brand_id", "name"]
        indexes = [models.Index(fields=["brand", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="active", resigned_on__isnull=True) | models.Q(status="resigned"),
                name="guide_resigned_on_only_when_resigned",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.wecom_userid})"

    @property
    def is_active(self) -> bool:
        return self.status == GuideStatus.ACTIVE
