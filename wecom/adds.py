"""Customer adds in batches: a worker takes the pending add_external_contact events and applies them together.

One add at a time cost ~48 statements and a Celery round trip per step; at 60 adds/s on two cores the worker
fell behind and welcome codes (20 s) expired in the queue. Here the worker that takes one add also takes the
other pending adds (``WECOM_ADD_BATCH_SIZE``), fetches each customer (one keep-alive connection), enrols all
the new customers, their brand memberships and relationships with a few set-based statements per brand, marks
the events done in the same transaction, then sends the welcome messages (``services.welcome_send_many``).
Under light load a batch is one or two adds; under a burst it grows, so the work per add falls as load rises.

Batched is the plain case only: a new customer adding an active guide of an active brand, on the event's first
attempt. Everything else (a customer already known: re-adds, a second guide, the same customer twice in the
batch; an unknown or inactive guide; WeCom failing to return the customer; a retry) goes through the
one-event path, ``services.inbox_apply``, right after the batch, so it behaves exactly as one event at a time.
Exactly once: every event is claimed (``processing``) before it is looked at; the batch's effects and the
events' ``done`` commit together; if the batch fails, nothing of it is written and each of its events goes the
one-event way, with its own retries. A worker killed mid-batch leaves claims that expire; the sweeper re-enqueues
those events. Facts: ../shared/reference/wecom-api.md §2.3 (externalcontact/get), §4 (events), §5 (welcome).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction

from guides.models import Guide

from . import services
from .client import RateLimited, WeComError, mall_client
from .models import CallbackEvent, InboxStatus, WelcomeDelivery, WelcomeStatus

logger = logging.getLogger(__name__)

ADD_CHANGE_TYPES = sorted(change_type for _event, change_type in services.ADD_EVENTS)


def inbox_claim_adds(*, limit: int, exclude: int) -> list[CallbackEvent]:
    """Take up to ``limit`` more pending adds on their first attempt (oldest first; those another worker is
    taking are skipped, not waited for). One statement."""
    if limit <= 0:
        return []
    return list(CallbackEvent.objects.raw(
        """
        UPDATE wecom_callbackevent
           SET status = 'processing', attempts = attempts + 1, locked_until = now() + make_interval(secs => %s)
         WHERE status = 'pending' AND attempts = 0
           AND id IN (SELECT id FROM wecom_callbackevent
                       WHERE status = 'pending' AND attempts = 0 AND next_attempt_at IS NULL
                         AND event = 'change_external_contact' AND change_type = ANY(%s) AND id <> %s
                       ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)
        RETURNING *
        """,
        [settings.WECOM_INBOX_CLAIM_SECONDS, ADD_CHANGE_TYPES, exclude, limit],
    ))


def adds_process(*, first: CallbackEvent) -> str | None:
    """Process the claimed add ``first`` together with the other pending adds. Returns ``first``'s status."""
    events = [first, *inbox_claim_adds(limit=settings.WECOM_ADD_BATCH_SIZE - 1, exclude=first.pk)]
    return adds_apply(events)[first.pk]


@dataclass
class _Add:
    event: CallbackEvent
    guide: Guide
    contact: dict
    follow: dict
    channel: str = ""
    state: str = ""
    member: object = None
    extra: dict = field(default_factory=dict)


def adds_apply(events: list[CallbackEvent]) -> dict[int, str]:
    """Apply claimed add events; returns {event id: final status}."""
    from guides.services import relationships_create_new
    from members.services import Enrolment, Identity, Profile, members_enroll_new

    statuses: dict[int, str] = {}
    guides = {g.wecom_userid: g for g in Guide.objects.select_related("brand").filter(
        wecom_userid__in={e.user_id for e in events})}
    single: list[CallbackEvent] = []
    candidates: list[tuple[CallbackEvent, Guide]] = []
    seen: set[tuple[str, str]] = set()
    for event in events:
        guide = guides.get(event.user_id)
        key = (event.corp_id, event.external_userid)
        if (guide is None or not guide.is_active or not guide.brand.is_active or not event.external_userid
                or event.attempts != 1 or key in seen):
            single.append(event)
            continue
        seen.add(key)
        candidates.append((event, guide))

    adds = _fetch_customers(candidates, single, statuses)
    applied: list[_Add] = []
    deliveries: list[WelcomeDelivery] = []
    if adds:
        try:
            with transaction.atomic():
                results = members_enroll_new(enrolments=[
                    Enrolment(brand=a.guide.brand, guide=a.guide, channel=a.channel,
                              identity=Identity(external_userid=a.event.external_userid, corp_id=a.event.corp_id,
                                                unionid=a.contact.get("unionid", "")),
                              profile=Profile(name=a.contact.get("name", ""),
                                              gender={1: "male", 2: "female"}.get(a.contact.get("gender"), "")))
                    for a in adds], actor="wecom")
                for a, result in zip(adds, results, strict=True):
                    if result is None:
                        continue
                    a.member = result.member
                    applied.append(a)
                by_brand: dict[int, list[_Add]] = {}
                for a in applied:
                    by_brand.setdefault(a.guide.brand_id, []).append(a)
                for group in by_brand.values():
                    relationships = relationships_create_new(brand=group[0].guide.brand, rows=[
                        {"guide": a.guide, "member": a.member, "external_userid": a.event.external_userid,
                         "channel": a.channel, "state": a.state, "added_at": dt.datetime.fromtimestamp(
                             int(a.follow.get("createtime") or a.event.create_time), tz=dt.UTC)} for a in group])
                    for a, relationship in zip(group, relationships, strict=True):
                        a.extra["relationship"] = relationship
                deliveries = WelcomeDelivery.objects.bulk_create([
                    WelcomeDelivery(event=a.event, brand=a.guide.brand, guide=a.guide, member=a.member,
                                    status=WelcomeStatus.PENDING if a.event.payload.get("WelcomeCode")
                                    else WelcomeStatus.NO_CODE) for a in applied])
                _mark_done(applied)
        except Exception:
            logger.exception("wecom.add_batch_failed", extra={"events": len(adds)})
            applied, deliveries = [], []
        applied_ids = {a.event.pk for a in applied}
        single += [a.event for a in adds if a.event.pk not in applied_ids]
    for a in applied:
        statuses[a.event.pk] = InboxStatus.DONE
    if applied:
        from .tasks import welcome_send_many_now

        # the welcome messages first (their codes live 20 s), then the newbie checklists
        pending = [d.pk for d in deliveries if d.status == WelcomeStatus.PENDING]
        if pending:
            welcome_send_many_now(pending)
        _newbie_refresh_later({a.guide for a in applied})
    for event in single:
        statuses[event.pk] = services.inbox_apply(event)
    return statuses


def _fetch_customers(candidates, single: list, statuses: dict) -> list[_Add]:
    """externalcontact/get for each candidate (the calls recorded in one INSERT). A customer WeCom does not
    return goes the one-event way (which asks again and enrols what it knows); a rate limit puts the event
    back for later, as the one-event path does."""
    client = mall_client()
    adds = []
    with client.records_held():
        for event, guide in candidates:
            try:
                data = client.get_contact(event.external_userid)
            except RateLimited as exc:
                services._retry_later(event, f"rate limited ({exc.errcode})", delay=min(300, 5 * 2 ** event.attempts))
                statuses[event.pk] = InboxStatus.PENDING
                continue
            except WeComError:
                single.append(event)
                continue
            contact, follow = data.get("external_contact", {}), services.follow_of(data, guide.wecom_userid)
            if not contact:
                single.append(event)
                continue
            event.prefetched_profile = (contact, follow)  # a fall back to the one-event path asks WeCom no more
            state = event.payload.get("State") or follow.get("state") or ""
            adds.append(_Add(event=event, guide=guide, contact=contact, follow=follow, state=state,
                             channel=services.channel_from_state(state)))
    return adds


def _mark_done(applied: list[_Add]) -> None:
    """The applied events' final status and result, one statement (inside the batch's transaction)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE wecom_callbackevent e
               SET status = 'done', result = v.result, processed_at = now(), brand_id = v.brand_id,
                   locked_until = NULL, next_attempt_at = NULL
              FROM unnest(%s::bigint[], %s::text[], %s::bigint[]) AS v(id, result, brand_id)
             WHERE e.id = v.id
            """,
            [[a.event.pk for a in applied],
             [f"created relationship {a.extra['relationship'].pk}; member {a.member.code}"[:255] for a in applied],
             [a.guide.brand_id for a in applied]])


def _newbie_refresh_later(guides: set[Guide]) -> None:
    """The newbie checklists of the guides who got customers, after their welcome messages (one task)."""
    from tasks.newbie.services import is_newbie

    ids = sorted(g.pk for g in guides if is_newbie(g))
    if not ids:
        return
    from tasks.newbie.tasks import refresh_guides

    try:
        refresh_guides.delay(ids)
    except Exception:  # a broker outage must not fail the adds (the catch-up run refreshes them)
        logger.warning("newbie.refresh_enqueue_failed", extra={"guides": len(ids)})
