from django.apps import AppConfig


class BrandWecomConfig(AppConfig):
    """Brand-schema side of WeCom: the brand's welcome message and live codes."""

    name = "wecom.brand"
    label = "brandwecom"
    verbose_name = "品牌企微配置 Brand WeCom settings"
