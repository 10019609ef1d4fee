"""Platform-level views: health and the mall landing page."""

from django.http import JsonResponse
from django.shortcuts import render

from scrm import health


def healthz(request):
    """JSON state of database, Redis and workers: 200 when all are up, 503 otherwise."""
    result = health.check()
    return JsonResponse(result, status=200 if result["ok"] else 503)


def mall_home(request):
    from tenants.models import Brand

    brands = Brand.objects.order_by("name")
    return render(request, "mall/home.html", {"brands": brands})
