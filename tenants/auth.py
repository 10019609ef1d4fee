"""API key authentication for integrations: ``Authorization: Api-Key sk_<prefix>_<secret>``."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from .access import principal_for_client
from .models import ApiClient
from .services import api_client_authenticate

LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Api-Key"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header.startswith(self.keyword + " "):
            return None
        client = api_client_authenticate(header[len(self.keyword) + 1:].strip())
        if client is None:
            raise exceptions.AuthenticationFailed("Invalid, inactive or suspended API key.", code="invalid_api_key")
        now = timezone.now()
        if client.last_used_at is None or now - client.last_used_at > LAST_USED_RESOLUTION:
            # "last used" to the minute: writing it on every call was an UPDATE per event an integration posts
            ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
        return principal_for_client(client), client

    def authenticate_header(self, request):
        return self.keyword


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "tenants.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Api-Key sk_<prefix>_<secret>`, one key per integration."}
