"""Periodic member jobs. Each is safe to run twice: they only touch rows that are due."""

from celery import shared_task
from django_tenants.utils import get_tenant_model, schema_context

from . import services


@shared_task(name="members.points_expire_due", ignore_result=True)
def points_expire_due() -> int:
    return services.points_expire_due()


@shared_task(name="members.tiers_reevaluate_window", ignore_result=True)
def tiers_reevaluate_window() -> int:
    return services.tiers_reevaluate_window()


@shared_task(name="members.coupons_expire_due", ignore_result=True)
def coupons_expire_due() -> None:
    """Mall coupons here, then one job per brand schema for the brands' own coupons."""
    from .models import Coupon

    services.coupons_expire_due(model=Coupon)
    for schema in get_tenant_model().objects.values_list("schema_name", flat=True):
        with schema_context(schema):
            brand_coupons_expire_due.delay()


@shared_task(name="members.brand_coupons_expire_due", ignore_result=True)
def brand_coupons_expire_due() -> int:
    """Runs in the brand schema stamped on the task by the publisher."""
    from .brand.models import BrandCoupon

    return services.coupons_expire_due(model=BrandCoupon)
