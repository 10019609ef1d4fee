"""URLs on the mall's hosts (public schema): admin, REST API, guide sidebar, health."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from incentives.views import share_open
from scrm.views import healthz, mall_home
from wecom.views import callback as wecom_callback

urlpatterns = [
    path("", mall_home, name="mall_home"),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("scrm.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("sidebar/", include("guides.sidebar_urls")),
    path("wecom/callback/", wecom_callback, name="wecom-callback"),
    path("s/<str:code>", share_open, name="share-open"),
]
