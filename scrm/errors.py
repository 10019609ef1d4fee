"""One application error type and one error shape: {"code", "message", "fields"}."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404


class AppError(Exception):
    """A business rule said no. Services raise it; every surface turns it into a clear answer."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, fields: dict | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.fields = fields or {}

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "fields": self.fields}


class NotFound(AppError):
    status = 404
    code = "not_found"


class Conflict(AppError):
    status = 409
    code = "conflict"


class Forbidden(AppError):
    status = 403
    code = "forbidden"


def _flatten(detail) -> dict:
    if isinstance(detail, dict):
        return {key: [str(v) for v in (value if isinstance(value, list) else [value])] for key, value in detail.items()}
    return {}


def api_exception_handler(exc, context):
    # DRF imported here: its settings import our authentication classes, which import this module.
    from rest_framework import exceptions as drf_exceptions
    from rest_framework.response import Response
    from rest_framework.views import exception_handler

    if isinstance(exc, AppError):
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {}
        return Response({"code": "invalid", "message": "; ".join(exc.messages), "fields": fields}, status=400)
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, drf_exceptions.ValidationError):
        body = {"code": "invalid", "message": "Some fields are invalid. 部分字段无效。", "fields": _flatten(exc.detail)}
    elif isinstance(exc, drf_exceptions.ParseError):
        body = {"code": "malformed_json", "message": f"Request body could not be parsed: {exc.detail}", "fields": {}}
    else:
        detail = exc.detail if isinstance(exc, drf_exceptions.APIException) else str(exc)
        code = getattr(exc, "default_code", "error")
        if isinstance(detail, dict | list):
            body = {"code": code, "message": str(detail), "fields": _flatten(detail)}
        else:
            body = {"code": getattr(detail, "code", None) or code, "message": str(detail), "fields": {}}
    response.data = body
    return response
