"""URLs on a brand's own domain (<slug>.localhost): the brand dashboard."""

from django.urls import include, path

from scrm.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("", include("members.brand.dashboard_urls")),
]
