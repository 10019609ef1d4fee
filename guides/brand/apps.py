from django.apps import AppConfig


class BrandGuidesConfig(AppConfig):
    """Brand-schema side of guides: the guide-customer relationships of one brand."""

    name = "guides.brand"
    label = "brandguides"
    verbose_name = "导购客户关系 Guide relationships"
