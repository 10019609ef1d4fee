"""WeCom callbacks: verify, store in the inbox, process exactly once.

Receiving only verifies, decrypts and stores (so WeCom gets its 200 within milliseconds and no
event is lost if Redis or the workers are down); processing happens in a Celery task, claimed
atomically so two workers (or a worker and the sweeper) never apply the same event twice.
Facts: ../shared/reference/wecom-api.md §4 (callbacks), §5 (welcome), §2.3 (externalcontact/get).
"""

from __future__ import annotations

import datetime as dt
import logging
import time

import xmltodict
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django_tenants.utils import schema_context
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidSignatureException

from guides.models import Guide
from tenants.services import audit

from .client import RateLimited, WeComError, mall_client
from .models import CallbackEvent, CallbackRejection, InboxStatus, WelcomeDelivery, WelcomeStatus

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8


class CallbackRejected(Exception):
    def __init__(self, reason: str, detail: str = "", status: int = 400):
        super().__init__(reason)
        self.reason, self.detail, self.status = reason, detail, status


def _crypto() -> WeChatCrypto:
    return WeChatCrypto(settings.WECOM_TOKEN, settings.WECOM_AES_KEY, settings.WECOM_CORP_ID)


def callback_reject_log(*, method: str, reason: str, detail: str, remote_addr: str, query: str, body: bytes) -> None:
    CallbackRejection.objects.create(method=method, reason=reason, detail=detail[:255], remote_addr=remote_addr[:64],
                                     query=query[:500], body_excerpt=body[:500].decode("utf-8", "replace"))
    logger.warning("wecom.callback_rejected", extra={"reason": reason})


def callback_verify_url(*, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
    """GET verification: check the signature, decrypt echostr, return the plaintext as-is."""
    try:
        return _crypto().check_signature(msg_signature, timestamp, nonce, echostr)
    except InvalidSignatureException as exc:
        raise CallbackRejected("bad_signature", status=403) from exc
    except InvalidCorpIdException as exc:
        raise CallbackRejected("wrong_corp", status=403) from exc
    except Exception as exc:  # undecodable echostr
        raise CallbackRejected("bad_echostr", exc.__class__.__name__) from exc


def dedup_key(fields: dict) -> str:
    """WeCom retries with the same payload; customer-contact events have no MsgId (reference §4.1)."""
    subject = fields.get("UserID") or fields.get("ChatId") or fields.get("Id") or ""
    parts = [fields.get("Event", ""), fields.get("ChangeType", ""), subject, fields.get("ExternalUserID", ""),
             str(fields.get("CreateTime", "")), fields.get("UpdateDetail", ""), fields.get("FailReason", "")]
    return "|".join(parts)[:255]


def callback_receive(*, msg_signature: str, timestamp: str, nonce: str, body: bytes) -> tuple[int, bool]:
    """Verify, decrypt and store one POSTed event. Returns (event id, created). Never processes it.

    The INSERT ... RETURNING is the only query: the caller needs the id, not a re-read row."""
    try:
        plaintext = _crypto().decrypt_message(body, msg_signature, timestamp, nonce)
    except InvalidSignatureException as exc:
        raise CallbackRejected("bad_signature", status=403) from exc
    except InvalidCorpIdException as exc:
        raise CallbackRejected("wrong_corp", status=403) from exc
    except Exception as exc:  # malformed XML, missing Encrypt, bad padding
        raise CallbackRejected("malformed", exc.__class__.__name__) from exc
    try:
        fields = xmltodict.parse(plaintext)["xml"]
        create_time = int(fields.get("CreateTime") or 0)
        event = fields.get("Event") or fields.get("MsgType") or ""
    except Exception as exc:
        raise CallbackRejected("malformed", "decrypted payload is not event XML") from exc
    key = dedup_key(fields)
    with connection.cursor() as cursor:
        # one statement: a retry of the same event only counts the delivery
        cursor.execute(
            """
            INSERT INTO wecom_callbackevent
                (corp_id, dedup_key, event, change_type, user_id, external_userid, chat_id, create_time, payload,
                 received_at, receive_count, status, attempts, result)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, now(), 1, 'pending', 0, '')
            ON CONFLICT (dedup_key) DO UPDATE SET receive_count = wecom_callbackevent.receive_count + 1
            RETURNING id, (xmax = 0) AS inserted
            """,
            [settings.WECOM_CORP_ID, key, event[:64], (fields.get("ChangeType") or "")[:64],
             (fields.get("UserID") or "")[:64], (fields.get("ExternalUserID") or "")[:64],
             (fields.get("ChatId") or "")[:64], create_time, _json(fields)],
        )
        event_id, inserted = cursor.fetchone()
    return event_id, inserted


def _json(fields) -> str:
    import json

    return json.dumps(fields, ensure_ascii=False)


# --------------------------------------------------------------------------- processing

def inbox_claim(event_id: int) -> CallbackEvent | None:
    """Take the event for processing, or None if it is done or another worker holds it."""
    claimed = list(CallbackEvent.objects.raw(  # one statement: the claim returns the row it took
        """
        UPDATE wecom_callbackevent
           SET status = 'processing', attempts = attempts + 1,
               locked_until = now() + make_interval(secs => %s)
         WHERE id = %s
           AND (status = 'pending' OR (status = 'processing' AND locked_until < now()))
           AND (next_attempt_at IS NULL OR next_attempt_at <= now())
        RETURNING *
        """,
        [settings.WECOM_INBOX_CLAIM_SECONDS, event_id],
    ))
    return claimed[0] if claimed else None


def inbox_due_ids(*, older_than_seconds: int, limit: int = 500) -> list[int]:
    """Events a worker should have taken by now (pending, or a claim that expired)."""
    cutoff = timezone.now() - dt.timedelta(seconds=older_than_seconds)
    now = timezone.now()
    pending = CallbackEvent.objects.filter(status=InboxStatus.PENDING, received_at__lte=cutoff).exclude(
        next_attempt_at__gt=now)
    stale = CallbackEvent.objects.filter(status=InboxStatus.PROCESSING, locked_until__lt=now)
    return list(pending.union(stale).values_list("id", flat=True)[:limit])


class Outcome:
    def __init__(self, status: str = InboxStatus.DONE, result: str = "", brand=None, after_commit=None):
        self.status, self.result, self.brand, self.after_commit = status, result, brand, after_commit


def inbox_process(event_id: int) -> str | None:
    """Process one inbox event exactly once. Returns its final status, or None if not ours to take.

    A customer add (on its first attempt) takes other pending adds with it, and they are processed together
    (wecom/adds.py): under a burst of adds that is how the worker keeps up."""
    event = inbox_claim(event_id)
    if event is None:
        return None
    if settings.WECOM_ADD_BATCH_SIZE > 1 and event.attempts == 1 and (event.event, event.change_type) in ADD_EVENTS:
        from .adds import adds_process

        return adds_process(first=event)
    return inbox_apply(event)


def inbox_apply(event: CallbackEvent) -> str:
    """Apply one claimed event: its handler's effects and its final status in one transaction."""
    handler = HANDLERS.get((event.event, event.change_type)) or HANDLERS.get((event.event, "*"))
    try:
        with transaction.atomic():
            outcome = handler(event) if handler else Outcome(InboxStatus.IGNORED, "no handler for this event")
            # marking done in the same transaction as the effects: applied exactly once
            CallbackEvent.objects.filter(pk=event.pk).update(
                status=outcome.status, result=outcome.result[:255], processed_at=timezone.now(),
                brand=outcome.brand, locked_until=None, next_attempt_at=None)
    except RateLimited as exc:
        _retry_later(event, f"rate limited ({exc.errcode})", delay=min(300, 5 * 2 ** event.attempts))
        return InboxStatus.PENDING
    except Exception as exc:
        logger.exception("wecom.callback_failed", extra={"event_id": event.pk})
        if event.attempts >= MAX_ATTEMPTS:
            CallbackEvent.objects.filter(pk=event.pk).update(status=InboxStatus.FAILED, locked_until=None,
                                                             result=f"{exc.__class__.__name__}: {exc}"[:255])
            return InboxStatus.FAILED
        _retry_later(event, f"{exc.__class__.__name__}: {exc}", delay=min(600, 2 ** event.attempts))
        return InboxStatus.PENDING
    if outcome.after_commit:
        outcome.after_commit()
    return outcome.status


def _retry_later(event: CallbackEvent, why: str, *, delay: float) -> None:
    CallbackEvent.objects.filter(pk=event.pk).update(
        status=InboxStatus.PENDING, locked_until=None, result=why[:255],
        next_attempt_at=timezone.now() + dt.timedelta(seconds=delay))


# --------------------------------------------------------------------------- handlers

def _guide(userid: str) -> Guide | None:
    return Guide.objects.select_related("brand").filter(wecom_userid=userid).first()


def channel_from_state(state: str) -> str:
    """The channel a customer came through, from the contact way's State.

    Live codes we create carry the channel itself (≤ 30 characters). WeCom rewrites State for some
    paths: acquisition links (获客链接) arrive as ``wb:<n>:<custom>``; we keep the custom part with a
    ``link:`` prefix. No State means a direct add (search, card share).
    """
    state = (state or "").strip()
    if not state:
        return "direct"
    if state.startswith("wb:"):
        parts = state.split(":", 2)
        return "link:" + (parts[2] if len(parts) == 3 and parts[2] else parts[1] if len(parts) > 1 else "")
    return state[:64]


def _customer_profile(external_userid: str, guide_userid: str) -> tuple[dict, dict]:
    """externalcontact/get -> (external_contact, this guide's follow_user entry). Empty on a WeCom error."""
    try:
        data = mall_client().get_contact(external_userid)
    except RateLimited:
        raise
    except WeComError as exc:
        logger.warning("wecom.contact_fetch_failed", extra={"errcode": exc.errcode})
        return {}, {}
    return data.get("external_contact", {}), follow_of(data, guide_userid)


ADD_EVENTS = {("change_external_contact", "add_external_contact"),
              ("change_external_contact", "add_half_external_contact")}


def follow_of(data: dict, guide_userid: str) -> dict:
    """This guide's follow_user entry in an externalcontact/get answer."""
    return next((f for f in data.get("follow_user", []) if f.get("userid") == guide_userid), {})


def handle_add_contact(event: CallbackEvent) -> Outcome:
    """add_external_contact / add_half_external_contact: enrol, relate, welcome (golden path step 3)."""
    from guides.services import relationship_record
    from members.services import Identity, Profile, member_enroll

    fields = event.payload
    guide = _guide(event.user_id)
    if guide is None:
        return Outcome(InboxStatus.IGNORED, f"unknown guide {event.user_id}")
    brand = guide.brand
    if not brand.is_active:
        return Outcome(InboxStatus.IGNORED, "brand suspended: no new enrolment", brand=brand)
    # a batch that handed this add over has asked WeCom already (wecom/adds.py)
    contact, follow = (getattr(event, "prefetched_profile", None)
                       or _customer_profile(event.external_userid, guide.wecom_userid))
    state = fields.get("State") or follow.get("state") or ""
    channel = channel_from_state(state)
    gender = {1: "male", 2: "female"}.get(contact.get("gender"), "")
    result = member_enroll(
        brand=brand, identity=Identity(external_userid=event.external_userid, corp_id=event.corp_id,
                                       unionid=contact.get("unionid", "")),
        profile=Profile(name=contact.get("name", ""), gender=gender), guide=guide if guide.is_active else None,
        channel=channel, actor="wecom")
    added_at = dt.datetime.fromtimestamp(int(follow.get("createtime") or event.create_time), tz=dt.UTC)
    relationship, change = relationship_record(guide=guide, member=result.member, external_userid=event.external_userid,
                                            channel=channel, state=state, added_at=added_at)
    welcome_code = fields.get("WelcomeCode") or ""
    status = WelcomeStatus.PENDING if welcome_code else WelcomeStatus.NO_CODE
    if change == "unchanged":
        return Outcome(result=f"already related ({relationship.pk})", brand=brand)
    delivery = WelcomeDelivery.objects.create(event=event, brand=brand, guide=guide, member=result.member,
                                              status=status)
    after = None
    if welcome_code:
        def after():
            from .tasks import welcome_send_now

            welcome_send_now(delivery.pk)
    from tasks.newbie.services import after_customer_added  # the welcome first, then the newbie checklist
    return Outcome(result=f"{change} relationship {relationship.pk}; member {result.member.code}", brand=brand,
                   after_commit=after_customer_added(guide=guide, first=after))


def handle_relationship_end(event: CallbackEvent) -> Outcome:
    """del_external_contact (guide removed the customer) / del_follow_user (customer removed the guide)."""
    from guides.services import relationship_end
    from members.models import MemberExternalId

    guide = _guide(event.user_id)
    if guide is None:
        return Outcome(InboxStatus.IGNORED, f"unknown guide {event.user_id}")
    member_id = MemberExternalId.objects.filter(corp_id=event.corp_id, external_userid=event.external_userid
                                                ).values_list("member_id", flat=True).first()
    if member_id is None:
        return Outcome(InboxStatus.IGNORED, "unknown customer", brand=guide.brand)
    if event.change_type == "del_follow_user":
        reason = "deleted_by_customer"
    elif event.payload.get("Source") == "DELETE_BY_TRANSFER":
        reason = "transferred"
    else:
        reason = "deleted_by_guide"
    ended = relationship_end(guide=guide, member_id=member_id, reason=reason,
                             at=dt.datetime.fromtimestamp(event.create_time, tz=dt.UTC))
    return Outcome(result=f"relationship ended ({reason})" if ended else "no active relationship",
                   brand=guide.brand)


def handle_transfer_fail(event: CallbackEvent) -> Outcome:
    """transfer_fail: a takeover did not happen (customer refused or successor at limit)."""
    from django_tenants.utils import schema_context

    from guides.handover.services import handover_transfer_fail

    guide = _guide(event.user_id)  # UserID is the takeover (successor) member
    reason = event.payload.get("FailReason", "")
    audit(action="wecom.transfer_failed", actor="wecom", brand=guide.brand if guide else None,
          guide_id=guide.pk if guide else None, external_userid=event.external_userid, reason=reason)
    if guide is None:
        return Outcome(InboxStatus.IGNORED, f"unknown takeover member {event.user_id}")
    with schema_context(guide.brand.schema_name):
        settled = handover_transfer_fail(takeover=guide, external_userid=event.external_userid, reason=reason)
    return Outcome(result=f"transfer failed: {reason}; {settled} handover customer(s) settled", brand=guide.brand)


# edit_external_contact and change_contact: wecom/contacts.py; change_external_chat: wecom/groups.py;
# change_external_tag: wecom/sync.py (all registered in WecomConfig.ready()).
HANDLERS = {
    ("change_external_contact", "add_external_contact"): handle_add_contact,
    ("change_external_contact", "add_half_external_contact"): handle_add_contact,
    ("change_external_contact", "del_external_contact"): handle_relationship_end,
    ("change_external_contact", "del_follow_user"): handle_relationship_end,
    ("change_external_contact", "transfer_fail"): handle_transfer_fail,
}


# --------------------------------------------------------------------------- welcome message

def welcome_content(*, brand, guide, member) -> tuple[dict, str]:
    """The brand's welcome message for this customer, issuing the welcome coupon. (body, coupon code)."""
    from members.services import coupon_issue

    from .brand.models import WelcomeMessage

    with schema_context(brand.schema_name):
        config = WelcomeMessage.objects.filter(is_active=True).select_related("coupon_template").first()
        if config is None:
            return {}, ""
        coupon_code = ""
        if config.coupon_template_id:
            coupon_code = coupon_issue(template=config.coupon_template, member=member, guide=guide,
                                       channel="welcome", actor="wecom").code
    return welcome_body(config=config, brand=brand, guide=guide, member=member, coupon_code=coupon_code), coupon_code


def welcome_body(*, config, brand, guide, member, coupon_code: str) -> dict:
    """The send_welcome_msg body (without the code) of a brand's welcome message for one customer."""
    text = config.text.replace("{guide}", guide.name).replace("{name}", member.name or "")
    attachments = []
    if coupon_code:
        text += f"\n🎁 {config.coupon_template.name}：{coupon_code}"
    if config.miniprogram_appid and config.miniprogram_pic_media_id:
        page = config.miniprogram_page + (f"?coupon={coupon_code}" if coupon_code else "")
        attachments.append({"msgtype": "miniprogram", "miniprogram": {
            "title": (config.miniprogram_title or brand.name)[:20], "appid": config.miniprogram_appid,
            "page": page, "pic_media_id": config.miniprogram_pic_media_id}})
    elif config.link_url:
        attachments.append({"msgtype": "link", "link": {"title": config.link_title or brand.name,
                                                       "url": config.link_url}})
    body = {"text": {"content": text[:4000]}}
    if attachments:
        body["attachments"] = attachments
    return body


WELCOME_WINDOW_SECONDS = 20  # a WelcomeCode is valid 20 s after the add (reference §5)


def welcome_due(*, older_than_seconds: int = 5) -> list[int]:
    """Pending welcome messages whose task was lost (Redis or a worker went down).

    Those still inside WeCom's 20-second window are returned to be sent; the rest are recorded as
    expired without a call, since their WelcomeCode can no longer work.
    """
    now = timezone.now()
    stale = WelcomeDelivery.objects.filter(status=WelcomeStatus.PENDING,
                                           created_at__lte=now - dt.timedelta(seconds=older_than_seconds))
    window_start = now - dt.timedelta(seconds=WELCOME_WINDOW_SECONDS)
    stale.filter(event__received_at__lte=window_start).update(status=WelcomeStatus.CODE_EXPIRED)
    return list(stale.filter(event__received_at__gt=window_start).values_list("id", flat=True))


def welcome_send(delivery_id: int) -> str:
    """Send the welcome message with the event's WelcomeCode (valid 20 s, single use; reference §5).

    Never retried blindly: a WelcomeCode works once. A rate-limit answer raises RateLimited (after the
    delivery is released) so the caller can try again within the 20 seconds; any other error is recorded
    as the outcome, and the welcome coupon the message promised is taken back with it.
    """
    client = mall_client()
    rate_limited = None
    with transaction.atomic():
        delivery = (WelcomeDelivery.objects.select_for_update(of=("self",))  # not the brand, guide, member rows
                    .select_related("event", "brand", "guide", "member")
                    .filter(pk=delivery_id, status=WelcomeStatus.PENDING).first())
        if delivery is None:
            return "not pending"
        if time.time() - delivery.event.create_time > WELCOME_WINDOW_SECONDS + 1:
            # Surely expired (CreateTime has 1 s resolution): when a backlog has made us late, do not spend a
            # coupon, a WeCom call and its rate limit on a code WeCom will refuse; later adds go first.
            WelcomeDelivery.objects.filter(pk=delivery.pk).update(status=WelcomeStatus.CODE_EXPIRED)
            return WelcomeStatus.CODE_EXPIRED
        # the call's record is written outside the savepoint, so a refused message keeps its record
        with client.records_held():
            try:
                with transaction.atomic():  # savepoint: the coupon exists only if the message went out
                    body, coupon_code = welcome_content(brand=delivery.brand, guide=delivery.guide,
                                                        member=delivery.member)
                    if body:
                        client.send_welcome_msg({"welcome_code": delivery.event.payload.get("WelcomeCode", ""),
                                                 **body})
            except RateLimited as exc:
                rate_limited = exc
            except WeComError as exc:
                status = {41050: WelcomeStatus.CODE_EXPIRED, 41051: WelcomeStatus.ALREADY_CHATTING}.get(
                    exc.errcode, WelcomeStatus.FAILED)
                WelcomeDelivery.objects.filter(pk=delivery.pk).update(status=status, errcode=exc.errcode)
                return status
        if rate_limited is None:
            if not body:
                WelcomeDelivery.objects.filter(pk=delivery.pk).update(status=WelcomeStatus.NOT_CONFIGURED)
                return WelcomeStatus.NOT_CONFIGURED
            WelcomeDelivery.objects.filter(pk=delivery.pk).update(
                status=WelcomeStatus.SENT, errcode=0, sent_at=timezone.now(), content=body, coupon_code=coupon_code,
                latency_ms=max(0, int((time.time() - delivery.event.create_time) * 1000)))
            return WelcomeStatus.SENT
    raise rate_limited


def welcome_send_many(delivery_ids: list[int]) -> dict[int, str]:
    """``welcome_send`` for the deliveries of a batch of adds: the same outcomes, coupons, statuses and call
    records, with a few statements per brand instead of a dozen per message. Returns {delivery id: status}.

    Each brand's welcome coupons are written before its messages go out and those of refused messages are
    deleted again (the coupon exists only if the message went out, as with ``welcome_send``). Deliveries this
    cannot treat plainly go the one-message way after the commit: those of a brand whose coupon cannot be
    issued now (``welcome_send`` records why) and, after a rate-limit answer, the rest (``welcome_send``
    retried shortly as a task, inside the 20 seconds).
    """
    from members.services import coupon_code_new, coupon_valid_until
    from tenants.services import audit_many

    from .brand.models import WelcomeMessage

    client = mall_client()
    outcomes: dict[int, str] = {}
    one_by_one, retry = [], []
    with transaction.atomic():
        deliveries = list(WelcomeDelivery.objects.select_for_update(of=("self",))
                          .select_related("event", "brand", "guide", "member")
                          .filter(pk__in=delivery_ids, status=WelcomeStatus.PENDING).order_by("pk"))
        late = time.time() - WELCOME_WINDOW_SECONDS - 1
        by_brand: dict[int, list[WelcomeDelivery]] = {}
        for delivery in deliveries:
            if delivery.event.create_time < late:  # surely expired: no coupon, no call (see welcome_send)
                delivery.status = WelcomeStatus.CODE_EXPIRED
            else:
                by_brand.setdefault(delivery.brand_id, []).append(delivery)
        rate_limited = False
        counts = []  # (schema, template, coupons sent) of unlimited templates: counted last, in a fixed order
        with client.records_held():
            # brands in a fixed order: the stock of limited templates is reserved (their rows locked) in that order
            for group in sorted(by_brand.values(), key=lambda g: g[0].brand.schema_name):
                brand = group[0].brand
                with schema_context(brand.schema_name):
                    config = WelcomeMessage.objects.filter(is_active=True).select_related("coupon_template").first()
                    if config is None:
                        for delivery in group:
                            delivery.status = WelcomeStatus.NOT_CONFIGURED
                        continue
                    template, coupons = config.coupon_template, {}
                    if template is not None:
                        coupons = _welcome_coupons_reserve(template, group, coupon_code_new, coupon_valid_until)
                        if coupons is None:
                            one_by_one += group
                            continue
                    sent = []
                    for delivery in group:
                        if rate_limited:
                            retry.append(delivery)
                            continue
                        coupon = coupons.get(delivery.pk)
                        code = coupon.code if coupon else ""
                        body = welcome_body(config=config, brand=brand, guide=delivery.guide, member=delivery.member,
                                            coupon_code=code)
                        try:
                            client.send_welcome_msg({"welcome_code": delivery.event.payload.get("WelcomeCode", ""),
                                                     **body})
                        except RateLimited:
                            rate_limited = True
                            retry.append(delivery)
                            continue
                        except WeComError as exc:
                            delivery.status = {41050: WelcomeStatus.CODE_EXPIRED,
                                               41051: WelcomeStatus.ALREADY_CHATTING}.get(exc.errcode,
                                                                                           WelcomeStatus.FAILED)
                            delivery.errcode = exc.errcode
                            continue
                        delivery.status, delivery.errcode, delivery.sent_at = WelcomeStatus.SENT, 0, timezone.now()
                        delivery.content, delivery.coupon_code = body, code
                        delivery.latency_ms = max(0, int((time.time() - delivery.event.create_time) * 1000))
                        sent.append(delivery)
                    if template is not None:
                        _welcome_coupons_settle(template, coupons, sent)
                        if template.stock is None and sent:
                            counts.append((brand.schema_name, template, len(sent)))
                        audit_many([{"action": "coupon.issued", "actor": "wecom", "member_id": d.member_id,
                                     "code": d.coupon_code, "schema": brand.schema_name} for d in sent])
        # the templates without stock count their coupons only now, rows locked in one order: two batches never
        # wait for each other's rows in turn (deadlock), and no row is locked during the calls to WeCom
        for schema, template, sent_count in sorted(counts, key=lambda c: (c[0], c[1].pk)):
            with schema_context(schema):
                type(template).objects.filter(pk=template.pk).update(issued_count=F("issued_count") + sent_count)
        changed = [d for d in deliveries if d.status != WelcomeStatus.PENDING]
        if changed:
            _deliveries_record(changed)
        outcomes.update({d.pk: d.status for d in changed})
    from .tasks import welcome_send as welcome_send_task
    from .tasks import welcome_send_now

    for delivery in retry:
        welcome_send_task.apply_async((delivery.pk,), countdown=2)
        outcomes[delivery.pk] = WelcomeStatus.PENDING
    for delivery in one_by_one:
        welcome_send_now(delivery.pk)
        outcomes[delivery.pk] = WelcomeDelivery.objects.filter(pk=delivery.pk).values_list("status", flat=True)[0]
    return outcomes


def _deliveries_record(deliveries: list[WelcomeDelivery]) -> None:
    """Write the outcome of each delivery, one statement (bulk_update's CASE per field cost more than the sends)."""
    import json

    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE wecom_welcomedelivery w
               SET status = v.status, errcode = v.errcode, sent_at = v.sent_at, content = v.content::jsonb,
                   coupon_code = v.coupon_code, latency_ms = v.latency_ms
              FROM unnest(%s::bigint[], %s::text[], %s::int[], %s::timestamptz[], %s::text[], %s::text[], %s::int[])
                   AS v(id, status, errcode, sent_at, content, coupon_code, latency_ms)
             WHERE w.id = v.id
            """,
            [[d.pk for d in deliveries], [d.status for d in deliveries], [d.errcode for d in deliveries],
             [d.sent_at for d in deliveries], [json.dumps(d.content or {}, ensure_ascii=False) for d in deliveries],
             [d.coupon_code or "" for d in deliveries], [d.latency_ms for d in deliveries]])


def _welcome_coupons_reserve(template, group, code_new, valid_until_of) -> dict | None:
    """One welcome coupon per delivery of ``group`` (current schema), written before the messages go out:
    {delivery id: coupon}. None when they cannot all be issued now (inactive, outside validity, not enough
    stock, a code taken): then nothing is written and each delivery goes through ``welcome_send``."""
    from scrm.errors import Conflict

    now = timezone.now()
    try:
        valid_until = valid_until_of(template, now=now)
    except Conflict:
        return None
    model = template.coupons.model
    if template.stock is not None:  # reserved now (the row stays locked to the end, as with coupon_issue)
        taken = type(template).objects.filter(pk=template.pk, issued_count__lte=F("stock") - len(group)).update(
            issued_count=F("issued_count") + len(group))
        if not taken:
            return None
    try:
        with transaction.atomic():  # savepoint: a code already taken leaves nothing behind
            coupons = model.objects.bulk_create([
                model(template=template, member=d.member, code=code_new("B"), valid_until=valid_until,
                      issued_by_guide=d.guide, channel="welcome") for d in group])
    except IntegrityError:
        if template.stock is not None:
            type(template).objects.filter(pk=template.pk).update(issued_count=F("issued_count") - len(group))
        return None
    return {d.pk: coupon for d, coupon in zip(group, coupons, strict=True)}


def _welcome_coupons_settle(template, coupons: dict, sent: list) -> None:
    """After the messages: the coupons of messages that did not go out are deleted (and their reserved stock
    given back; a template without stock is counted by the caller, after every brand's messages)."""
    sent_ids = {d.pk for d in sent}
    unsent = [c.pk for delivery_id, c in coupons.items() if delivery_id not in sent_ids]
    if unsent:
        template.coupons.model.objects.filter(pk__in=unsent).delete()
        if template.stock is not None:
            type(template).objects.filter(pk=template.pk).update(issued_count=F("issued_count") - len(unsent))
