"""The mall (public schema) and its brand tenants, stores, counters, staff roles and API clients."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class BrandCategory(models.TextChoices):
    COSMETICS = "cosmetics", "美妆 Cosmetics"
    APPAREL = "apparel", "服饰 Apparel"
    SHOES = "shoes", "鞋履 Shoes"
    KIDS = "kids", "童装 Kids"
    FOOD = "food", "餐饮 Food"
    OTHER = "other", "其他 Other"


class BrandStatus(models.TextChoices):
    ACTIVE = "active", "营业 Active"
    SUSPENDED = "suspended", "停用 Suspended"


class SharingPolicy(models.TextChoices):
    """How much of its brand data the brand lets the mall see (DESIGN: sharing policy)."""

    FULL = "full", "全部共享 Full (mall tools for everything)"
    AGGREGATES = "aggregates", "仅汇总 Aggregates only"


class Brand(TenantMixin):
    """A brand in the mall (品牌). Each brand is a tenant with its own PostgreSQL schema."""

    name = models.CharField("名称 Name", max_length=100)
    name_en = models.CharField("英文名 English name", max_length=100, blank=True)
    slug = models.SlugField("子域名 Subdomain", max_length=40, unique=True)
    category = models.CharField("品类 Category", max_length=20, choices=BrandCategory.choices)
    status = models.CharField("状态 Status", max_length=20, choices=BrandStatus.choices, default=BrandStatus.ACTIVE)
    sharing_policy = models.CharField(
        "数据共享 Sharing policy", max_length=20, choices=SharingPolicy.choices, default=SharingPolicy.AGGREGATES
    )
    suspended_at = models.DateTimeField("停用时间 Suspended at", null=True, blank=True)
    created_at = models.DateTimeField("创建时间 Created", auto_now_add=True)

    auto_create_schema = True
    auto_drop_schema = False  # suspending or deleting a brand never drops its data

    class Meta:
        verbose_name = "品牌 Brand"
        verbose_name_plural = "品牌 Brands"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == BrandStatus.ACTIVE


class Domain(DomainMixin):
    """A host name that routes to a brand's dashboard (e.g. lancome.localhost)."""

    class Meta:
        verbose_name = "品牌域名 Brand domain"
        verbose_name_plural = "品牌域名 Brand domains"


def default_opening_hours() -> dict:
    return {day: ["10:00", "22:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Store(models.Model):
    """A physical mall store (门店), e.g. 静安店. Brands have counters inside stores."""

    code = models.CharField("编码 Code", max_length=20, unique=True)
    name = models.CharField("名称 Name", max_length=100)
    city = models.CharField("城市 City", max_length=50)
    address = models.CharField("地址 Address", max_length=200)
    latitude = models.DecimalField("纬度 Latitude", max_digits=9, decimal_places=6)
    longitude = models.DecimalField("经度 Longitude", max_digits=9, decimal_places=6)
    opening_hours = models.JSONField(
        "营业时间 Opening hours", default=default_opening_hours,
        help_text='{"mon": ["10:00", "22:00"], ...}; a missing day means closed.',
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "门店 Store"
        verbose_name_plural = "门店 Stores"
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    def is_open_at(self, moment: dt.datetime) -> bool:
        """Whether the store is open at a local (Asia/Shanghai) time; used for cross-time sales."""
        from django.utils import timezone

        local = timezone.localtime(moment)
        hours = self.opening_hours.get(WEEKDAYS[local.weekday()])
        if not hours:
            return False
        opens, closes = (dt.time.fromisoformat(h) for h in hours)
        return opens <= local.time() < closes


class Counter(models.Model):
    """A brand's counter (专柜) inside a store; guides work at a counter."""

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="counters", verbose_name="品牌 Brand")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="counters", verbose_name="门店 Store")
    code = models.CharField("编码 Code", max_length=30, unique=True)
    name = models.CharField("名称 Name", max_length=100)
    floor = models.CharField("楼层 Floor", max_length=20, blank=True)
    is_active = models.BooleanField("启用 Active", default=True)

    class Meta:
        verbose_name = "专柜 Counter"
        verbose_name_plural = "专柜 Counters"
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["brand", "store"], name="counter_one_per_brand_store")]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    MALL_ADMIN = "mall_admin", "商场管理员 Mall admin"
    MALL_OPERATOR = "mall_operator", "商场运营 Mall operator"
    MALL_ANALYST = "mall_analyst", "商场分析师(只读) Mall analyst (read-only)"
    BRAND_MANAGER = "brand_manager", "品牌经理 Brand manager"
    GUIDE = "guide", "导购 Guide"


MALL_ROLES = {Role.MALL_ADMIN, Role.MALL_OPERATOR, Role.MALL_ANALYST}


class StaffRole(models.Model):
    """What a staff login may do: a mall role (all brands) or a brand role (one brand)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_role")
    role = models.CharField("角色 Role", max_length=20, choices=Role.choices)
    brand = models.ForeignKey(Brand, null=True, blank=True, on_delete=models.PROTECT, verbose_name="品牌 Brand")
    guide = models.OneToOneField(
        "guides.Guide", null=True, blank=True, on_delete=models.PROTECT, related_name="staff_role",
        verbose_name="导购 Guide",
    )

    class Meta:
        verbose_name = "员工角色 Staff role"
        verbose_name_plural = "员工角色 Staff roles"
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(role__in=["mall_admin", "mall_operator", "mall_analyst"], brand__isnull=True)
                    | models.Q(role="brand_manager", brand__isnull=False)
                    | models.Q(role="guide", brand__isnull=False, guide__isnull=False)
                ),
                name="staffrole_brand_matches_role",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()}"


class ApiClient(models.Model):
    """An integration (POS, mini-program, live stream) calling the API with its own key.

    A client bound to a brand acts only for that brand; one without a brand acts for the mall.
    Only a SHA-256 of the key is stored; the key is shown once when created.
    """

    name = models.CharField("名称 Name", max_length=100)
    brand = models.ForeignKey(Brand, null=True, blank=True, on_delete=models.PROTECT, verbose_name="品牌 Brand")
    key_prefix = models.CharField(max_length=12, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    is_active = models.BooleanField("启用 Active", default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "接口客户端 API client"
        verbose_name_plural = "接口客户端 API clients"

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"


class AuditEvent(models.Model):
    """Timeline row written by every service that changes a brand's, member's or guide's state."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=60, db_index=True)
    actor = models.CharField(max_length=120, blank=True, help_text="user:<id>, api:<prefix>, system")
    brand = models.ForeignKey(Brand, null=True, blank=True, on_delete=models.SET_NULL)
    member_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    guide_id = models.BigIntegerField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "审计日志 Audit event"
        verbose_name_plural = "审计日志 Audit events"
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action}"
