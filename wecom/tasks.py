"""WeCom Celery tasks. Each takes an id, re-reads state and is safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from . import services
from .client import RateLimited

logger = logging.getLogger(__name__)


@shared_task(name="wecom.process_callback", ignore_result=True, acks_late=True)
def process_callback(event_id: int) -> str | None:
    """Safe to run twice: the inbox claim lets exactly one run apply the event."""
    return services.inbox_process(event_id)


@shared_task(name="wecom.inbox_sweep", ignore_result=True)
def inbox_sweep() -> int:
    """Re-enqueue events no worker took (Redis/workers were down, a worker died mid-event)."""
    ids = services.inbox_due_ids(older_than_seconds=settings.WECOM_INBOX_SWEEP_AFTER_SECONDS)
    for event_id in ids:
        process_callback.delay(event_id)
    for delivery_id in services.welcome_due():
        welcome_send.delay(delivery_id)
    return len(ids)


@shared_task(name="wecom.welcome_send", bind=True, ignore_result=True, max_retries=6)
def welcome_send(self, delivery_id: int) -> str:
    """A blind retry would not duplicate the message (the WelcomeCode is single use and the delivery row
    is locked and checked); only rate limits are retried, quickly, inside WeCom's 20-second window."""
    try:
        return services.welcome_send(delivery_id)
    except RateLimited as exc:
        raise self.retry(exc=exc, countdown=2) from exc


def welcome_send_now(delivery_id: int) -> None:
    """Send a welcome message right here, in the worker that just committed the add.

    The WelcomeCode lives 20 seconds. Queueing the send as a second task put it behind every callback that
    arrived meanwhile, which under a burst of adds cost more than the window. Rate limited: a task retries
    shortly. Anything else (the database or WeCom unreachable): the delivery stays pending and the sweeper
    sends it while the code is still valid, or records it expired.
    """
    try:
        services.welcome_send(delivery_id)
    except RateLimited:
        welcome_send.apply_async((delivery_id,), countdown=2)
    except Exception:
        logger.exception("wecom.welcome_send_failed", extra={"delivery_id": delivery_id})


def welcome_send_many_now(delivery_ids: list[int]) -> None:
    """``welcome_send_now`` for the deliveries of a batch of adds (wecom/adds.py), in the worker that just
    committed them. Should anything fail, the deliveries stay pending and the sweeper sends them in time."""
    if not delivery_ids:
        return
    try:
        services.welcome_send_many(delivery_ids)
    except Exception:
        logger.exception("wecom.welcome_send_failed", extra={"deliveries": len(delivery_ids)})
