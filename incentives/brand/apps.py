from django.apps import AppConfig


class BrandIncentivesConfig(AppConfig):
    """Brand-schema side of incentives: the brand's orders with their attribution, and commission."""

    name = "incentives.brand"
    label = "brandincentives"
    verbose_name = "订单归因与佣金 Orders and commission"
