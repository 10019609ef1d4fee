"""Shared pieces of the REST API: permissions and cursor pagination (no COUNT on big tables)."""

from __future__ import annotations

from rest_framework import pagination, permissions

from scrm.errors import Forbidden
from tenants.access import Principal, principal_of


class StaffOrIntegration(permissions.BasePermission):
    """Mall staff, brand managers and integrations; guides use the sidebar, not the API."""

    def has_permission(self, request, view) -> bool:
        principal = principal_of(request)
        if principal.is_guide:
            raise Forbidden("Guides use the sidebar, not the API. 导购请使用侧边栏。", code="guide_not_allowed")
        if request.method not in permissions.SAFE_METHODS:
            principal.require_write()
        return True


class NewestFirstCursor(pagination.CursorPagination):
    ordering = "-id"
    page_size = 50
    max_page_size = 200
    page_size_query_param = "limit"


def principal(request) -> Principal:
    return principal_of(request)
