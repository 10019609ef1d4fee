"""The mall corp's one callback URL: /wecom/callback/ (reference §4.1)."""

from __future__ import annotations

import logging

from django.db import transaction
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from . import services

logger = logging.getLogger(__name__)


def _enqueue(event_id: int) -> None:
    from .tasks import process_callback

    try:
        process_callback.delay(event_id)
    except Exception:  # Redis down: the event is stored; the sweeper will process it
        logger.warning("wecom.enqueue_failed", extra={"event_id": event_id})


@csrf_exempt
@require_http_methods(["GET", "POST"])
def callback(request):
    params = request.GET
    try:
        if request.method == "GET":
            plaintext = services.callback_verify_url(
                msg_signature=params.get("msg_signature", ""), timestamp=params.get("timestamp", ""),
                nonce=params.get("nonce", ""), echostr=params.get("echostr", ""))
            return HttpResponse(plaintext, content_type="text/plain; charset=utf-8")
        event_id, created = services.callback_receive(
            msg_signature=params.get("msg_signature", ""), timestamp=params.get("timestamp", ""),
            nonce=params.get("nonce", ""), body=request.body)
    except services.CallbackRejected as rejected:
        services.callback_reject_log(method=request.method, reason=rejected.reason, detail=rejected.detail,
                                     remote_addr=request.META.get("REMOTE_ADDR", ""),
                                     query=request.META.get("QUERY_STRING", ""), body=request.body)
        return HttpResponse(rejected.reason, status=rejected.status, content_type="text/plain")
    if created:
        transaction.on_commit(lambda: _enqueue(event_id))
    return HttpResponse("", content_type="text/plain")
