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

    host = request.get_host()
    port = host.rsplit(":", 1)[1] if ":" in host and not host.endswith("]") else ""
    brands = list(Brand.objects.prefetch_related("domains").order_by("name"))
    for brand in brands:
        domain = next((d.domain for d in brand.domains.all() if d.is_primary), None)
        brand.dashboard_url = f"{request.scheme}://{domain}{':' + port if port else ''}/" if domain else ""
    return render(request, "mall/home.html", {"brands": brands})
