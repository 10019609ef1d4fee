"""Host routing: mall hosts -> public schema (mall admin, API, sidebar); brand domains -> brand."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import Http404
from django_tenants.middleware.main import TenantMainMiddleware


class MallTenantMiddleware(TenantMainMiddleware):
    def get_tenant(self, domain_model, hostname):
        # Mall hosts are settings, not Domain rows: their lookup always misses, so skip that query on
        # every mall request (admin, API, sidebar, the WeCom callback) and go straight to the public schema.
        if hostname in settings.MALL_HOSTS:
            raise domain_model.DoesNotExist
        return super().get_tenant(domain_model, hostname)

    def no_tenant_found(self, request, hostname):
        if hostname in settings.MALL_HOSTS:
            self.setup_url_routing(request=request, force_public=True)
            # django-tenants' own admin templates read request.tenant.schema_name
            request.tenant = connection.tenant
            return None
        raise Http404(f'No brand or mall is served at "{hostname}".')
