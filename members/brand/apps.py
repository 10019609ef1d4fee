from django.apps import AppConfig


class BrandMembersConfig(AppConfig):
    """Brand-schema side of members: brand memberships and brand coupons."""

    name = "members.brand"
    label = "brandmembers"
    verbose_name = "品牌会员 Brand membership"
