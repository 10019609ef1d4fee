"""Services for exclusive share links (专属链接), the events the mall's systems send, and order
attribution (订单归因) with its earnings: member points, guide commission, coins and experience.

Share links and their events are the mall's (public schema: a link resolves on the mall host
without knowing the brand). Orders, their attribution facts and commission are the brand's (the
brand schema); the points go to the one mall balance through ``members.services``.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import math
import secrets
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.core import signing
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django_tenants.utils import schema_context

from guides.models import Guide, GuideStatus
from members import services as member_services
from members.models import Member
from scrm.errors import AppError, Conflict, NotFound
from tenants.models import Brand, Store
from tenants.services import audit

from . import feed
from .models import AttributionSettings, ShareAction, ShareActionKind, ShareKind, ShareLink
from .services import reward_credit

log = logging.getLogger(__name__)

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SIG_LEN = 6
_CODE_SALT = "incentives.share-link"
_TOKEN_SALT = "incentives.share-token"
VISITOR_COOKIE = "scrm_vid"
SHARE_COOKIE = "scrm_share"
SHARE_PARAM = "scrm_share"


def _b62(number: int) -> str:
    out = ""
    while True:
        number, digit = divmod(number, 62)
        out = _B62[digit] + out
        if number == 0:
            return out


def _signature(body: str) -> str:
    digest = int.from_bytes(salted_hmac(_CODE_SALT, body, algorithm="sha256").digest()[:8], "big")
    return _b62(digest)[:_SIG_LEN].rjust(_SIG_LEN, "0")


def share_code_for(link_id: int) -> str:
    body = _b62(link_id)
    return body + _signature(body)


def share_link_resolve_signature(code: str) -> bool:
    """Whether a code carries a valid signature (checked before any database read)."""
    if not code or len(code) <= _SIG_LEN or len(code) > 24 or any(c not in _B62 for c in code):
        return False
    return hmac.compare_digest(code[-_SIG_LEN:], _signature(code[:-_SIG_LEN]))


def share_link_resolve(code: str) -> ShareLink | None:
    """The link behind a code, if the code carries a valid signature (forged codes never hit the DB)."""
    if not share_link_resolve_signature(code):
        return None
    return ShareLink.objects.select_related("guide", "brand").filter(code=code).first()


def share_link_create(*, guide: Guide, kind: str, target_id: str, title: str, target_url: str) -> ShareLink:
    """The guide's link for a product / page / coupon / live stream (the same target gives the same link)."""
    fields = {}
    if kind not in ShareKind.values:
        fields["kind"] = [f"One of {', '.join(ShareKind.values)}."]
    if not (target_id or "").strip() or len(target_id) > 64:
        fields["target_id"] = ["1-64 characters. 1-64个字符。"]
    if not (title or "").strip() or len(title) > 100:
        fields["title"] = ["1-100 characters. 1-100个字符。"]
    parts = urlsplit(target_url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc or len(target_url) > 500:
        fields["target_url"] = ["An http(s) address. 须为http(s)地址。"]
    if fields:
        raise AppError("Invalid share link. 分享链接无效。", code="invalid_share_link", fields=fields)
    if guide.status != GuideStatus.ACTIVE:
        raise AppError("A resigned guide cannot share. 离职导购不能分享。", code="guide_resigned")
    with transaction.atomic():
        link, created = ShareLink.objects.get_or_create(
            guide=guide, kind=kind, target_id=target_id.strip(),
            defaults={"brand_id": guide.brand_id, "title": title.strip(), "target_url": target_url})
        if created:
            link.code = share_code_for(link.pk)
            ShareLink.objects.filter(pk=link.pk).update(code=link.code)
            audit(action="share_link.create", actor=f"guide:{guide.pk}", brand=guide.brand, guide_id=guide.pk,
                  link_id=link.pk, kind=kind, target_id=link.target_id)
    return link


def share_token_make(link: ShareLink, *, at: dt.datetime | None = None) -> str:
    """What the redirect hands to the mall's pages (cookie and URL parameter): link code + click time, signed."""
    at = at or timezone.now()
    return signing.Signer(salt=_TOKEN_SALT).sign(f"{link.code}.{int(at.timestamp())}")


def share_token_read(token: str) -> tuple[str, dt.datetime] | None:
    try:
        value = signing.Signer(salt=_TOKEN_SALT).unsign(token or "")
        code, ts = value.rsplit(".", 1)
        return code, dt.datetime.fromtimestamp(int(ts), tz=dt.UTC)
    except (signing.BadSignature, ValueError, OverflowError):
        return None


def target_with_token(link: ShareLink, token: str) -> str:
    parts = urlsplit(link.target_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != SHARE_PARAM]
    query.append((SHARE_PARAM, token))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def new_visitor_id() -> str:
    return secrets.token_urlsafe(12)


_COUNTER_OF = {ShareActionKind.OPEN: "opened", ShareActionKind.LIKE: "liked", ShareActionKind.CART: "carted"}


def share_action_record(*, link: ShareLink, kind: str, visitor: str, member_id: int | None = None,
                        at: dt.datetime | None = None) -> bool:
    """Count an open / like / add-to-cart once per visitor, link and day (Asia/Shanghai). True if counted."""
    at = at or timezone.now()
    day = timezone.localtime(at).date()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO incentives_shareaction (link_id, kind, visitor, member_id, day, at)
            VALUES (%s, %s, %s, %s, %s, %s)
            ON CONFLICT (link_id, kind, visitor, day) DO NOTHING RETURNING id
            """,
            [link.pk, kind, visitor[:80], member_id, day, at],
        )
        counted = cursor.fetchone() is not None
        if counted:
            ShareLink.objects.filter(pk=link.pk).update(**{_COUNTER_OF[kind]: F(_COUNTER_OF[kind]) + 1},
                                                         updated_at=timezone.now())
            feed.changed_on_commit(link_id=link.pk, guide_id=link.guide_id, event=kind)
    return counted


# --------------------------------------------------------------------------- events from the mall's systems

EVENT_KINDS = {"view": ShareActionKind.OPEN, "like": ShareActionKind.LIKE, "add_to_cart": ShareActionKind.CART}


MAX_BATCH = 500


@dataclass(frozen=True)
class ShareEventIn:
    event_id: str
    kind: str
    share_code: str = ""
    share_token: str = ""
    visitor: str = ""
    member_code: str = ""
    at: dt.datetime | None = None


@dataclass(frozen=True)
class EventResult:
    event_id: str
    replayed: bool
    counted: bool
    link_code: str


# One statement for a whole batch: the events go in unless their id was seen (a retried delivery), the
# actions of the new ones go in unless this visitor already did it today, and the links' counters
# move by what was inserted. Returns the new event ids and the new (link, kind, visitor, day) keys.
_INGEST_SQL = """
WITH input AS (
    SELECT * FROM unnest(%(event_ids)s::text[], %(kinds)s::text[], %(actions)s::text[], %(link_ids)s::bigint[],
                         %(visitors)s::text[], %(member_ids)s::bigint[], %(days)s::date[], %(ats)s::timestamptz[])
           WITH ORDINALITY AS t(event_id, kind, action, link_id, visitor, member_id, day, at, n)
), ev AS (
    INSERT INTO incentives_shareevent (event_id, kind, link_id, source, received_at)
    SELECT DISTINCT ON (event_id) event_id, kind, link_id, %(source)s, now() FROM input ORDER BY event_id, n
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id
), act AS (
    INSERT INTO incentives_shareaction (link_id, kind, visitor, member_id, day, at)
    SELECT DISTINCT ON (i.link_id, i.action, i.visitor, i.day) i.link_id, i.action, i.visitor, i.member_id, i.day, i.at
    FROM input i JOIN ev ON ev.event_id = i.event_id ORDER BY i.link_id, i.action, i.visitor, i.day, i.n
    ON CONFLICT (link_id, kind, visitor, day) DO NOTHING
    RETURNING link_id, kind, visitor, day
), counts AS (
    SELECT link_id, COUNT(*) FILTER (WHERE kind = 'open') AS opened, COUNT(*) FILTER (WHERE kind = 'like') AS liked,
           COUNT(*) FILTER (WHERE kind = 'cart') AS carted
    FROM act GROUP BY link_id
), locked AS (
    -- rows locked in id order: two batches touching the same links never wait on each other in a circle
    SELECT l.id FROM incentives_sharelink l WHERE l.id IN (SELECT link_id FROM counts) ORDER BY l.id FOR UPDATE
), moved AS (
    UPDATE incentives_sharelink l
    SET opened = l.opened + c.opened, liked = l.liked + c.liked, carted = l.carted + c.carted, updated_at = now()
    FROM counts c, locked k WHERE l.id = c.link_id AND k.id = l.id
    RETURNING l.id, l.guide_id
)
SELECT (SELECT array_agg(event_id) FROM ev),
       (SELECT array_agg(link_id || '|' || kind || '|' || visitor || '|' || day) FROM act),
       (SELECT array_agg(DISTINCT guide_id) FROM moved),
       (SELECT array_agg(id) FROM moved)
"""


def _bad(message: str, code: str, field: str, problem: str, index: int | None, status: int = 400) -> AppError:
    name = field if index is None else f"events[{index}].{field}"
    return AppError(message, code=code, status=status, fields={name: [problem]})


def share_events_ingest(*, events: list[ShareEventIn], brand_id: int | None = None,
                        source: str = "api") -> list[EventResult]:
    """view / like / add_to_cart events from the mall's mini-program, POS or live stream, one or a batch.

    Idempotent by event id; an action counts once per visitor, link and day. All or nothing: one bad
    event refuses the batch (its index is in the error's field name). A brand's integration sees
    only its brand's links. Three queries whatever the batch size.
    """
    batch = len(events) > 1
    if not events or len(events) > MAX_BATCH:
        raise AppError(f"Send 1-{MAX_BATCH} events. 每批1-{MAX_BATCH}条事件。", code="invalid_batch",
                       fields={"events": [f"1-{MAX_BATCH} items."]})
    codes = []
    for index, event in enumerate(events):
        where = index if batch else None
        if event.kind not in EVENT_KINDS:
            raise _bad("Unknown event type. 未知事件类型。", "invalid_event_type", "type",
                       f"One of {', '.join(EVENT_KINDS)}.", where)
        if not event.event_id or len(event.event_id) > 80:
            raise _bad("An event id (1-80 characters) is required. 需要事件ID。", "invalid", "event_id", "Required.",
                       where)
        code = event.share_code
        if event.share_token:
            read = share_token_read(event.share_token)
            if read is None:
                raise _bad("The share token is not valid. 分享凭证无效。", "invalid_share_token", "share_token",
                           "Bad signature.", where)
            code = read[0]
        if not code:
            raise _bad("share_code or share_token is required. 需要分享码。", "share_required", "share_code",
                       "Required.", where)
        if not event.visitor and not event.member_code:
            raise _bad("visitor or member is required. 需要访客或会员。", "visitor_required", "visitor", "Required.",
                       where)
        codes.append(code)
    links = {}
    signed = [code for code in set(codes) if share_link_resolve_signature(code)]
    for code, pk, guide_id, link_brand in ShareLink.objects.filter(code__in=signed).values_list(
            "code", "pk", "guide_id", "brand_id"):
        if brand_id is None or link_brand == brand_id:  # another brand's link answers like a missing one
            links[code] = (pk, guide_id)
    member_codes = {event.member_code for event in events if event.member_code}
    members = dict(Member.objects.filter(code__in=member_codes).values_list("code", "pk")) if member_codes else {}
    for index, (event, code) in enumerate(zip(events, codes, strict=True)):
        where = index if batch else None
        if code not in links:
            raise _bad("Unknown share link. 分享链接不存在。", "unknown_share_link", "share_code", "Unknown code.", where,
                       status=404)
        if event.member_code and event.member_code not in members:
            raise _bad("Unknown member. 会员不存在。", "unknown_member", "member", "Unknown member code.", where)
    now = timezone.now()
    rows = []
    for event, code in zip(events, codes, strict=True):
        at = event.at or now
        who = f"m:{event.member_code}" if event.member_code else f"v:{event.visitor}"
        rows.append((event.event_id, event.kind, EVENT_KINDS[event.kind], links[code][0], who[:80],
                     members.get(event.member_code), timezone.localtime(at).date(), at))
    columns = list(zip(*rows, strict=True))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_INGEST_SQL, {
            "event_ids": list(columns[0]), "kinds": list(columns[1]), "actions": list(columns[2]),
            "link_ids": list(columns[3]), "visitors": list(columns[4]), "member_ids": list(columns[5]),
            "days": list(columns[6]), "ats": list(columns[7]), "source": source[:120]})
        new_events, new_actions, guides, moved_links = cursor.fetchone()
        if guides:
            kinds = {event.kind for event in events}
            line = {"event": EVENT_KINDS[kinds.pop()] if len(kinds) == 1 else "share"}
            transaction.on_commit(lambda: feed.publish_many(guide_ids=guides, line=line, link_ids=moved_links))
    new_events, new_actions = set(new_events or ()), set(new_actions or ())
    results, seen = [], set()
    for row, code in zip(rows, codes, strict=True):
        event_id, _, action, link_id, who, _, day, _ = row
        replayed = event_id not in new_events or event_id in seen
        seen.add(event_id)
        key = f"{link_id}|{action}|{who}|{day.isoformat()}"
        counted = not replayed and key in new_actions
        if counted:
            new_actions.discard(key)  # a second event of the batch for the same visitor/day is not counted
        results.append(EventResult(event_id=event_id, replayed=replayed, counted=counted, link_code=code))
    return results


def _member_by_code(code: str) -> Member | None:
    if not code:
        return None
    member = Member.objects.filter(code=code).first()
    if member is None:
        raise AppError("Unknown member. 会员不存在。", code="unknown_member", fields={"member": ["Unknown member code."]})
    return member


def share_event_ingest(*, event_id: str, kind: str, share_code: str = "", share_token: str = "", visitor: str = "",
                       member_code: str = "", at: dt.datetime | None = None, brand_id: int | None = None,
                       source: str = "api") -> EventResult:
    """One view / like / add_to_cart (see ``share_events_ingest``)."""
    return share_events_ingest(events=[ShareEventIn(event_id=event_id, kind=kind, share_code=share_code,
                                                    share_token=share_token, visitor=visitor,
                                                    member_code=member_code, at=at)],
                               brand_id=brand_id, source=source)[0]


# --------------------------------------------------------------------------- orders

def _distance_km(lat1, lng1, lat2, lng2) -> float:
    """Great-circle distance (haversine), good to metres at city scale."""
    p1, p2 = math.radians(float(lat1)), math.radians(float(lat2))
    dp, dl = p2 - p1, math.radians(float(lng2) - float(lng1))
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0088 * 2 * math.asin(math.sqrt(a))


@dataclass(frozen=True)
class Attribution:
    guide: Guide | None
    by: str
    link: ShareLink | None


def _active(guide: Guide | None, brand: Brand) -> Guide | None:
    return guide if guide is not None and guide.status == GuideStatus.ACTIVE and guide.brand_id == brand.pk else None


def attribute(*, brand: Brand, member: Member | None, share_token: str, paid_at: dt.datetime,
              rules: AttributionSettings) -> Attribution:
    """The mall's rules, in order: a share-link click within N days, the member's current guide at the
    brand, the member's first guide at the brand. A link of another brand or of a guide who left is
    ignored (the next rule decides). Runs inside the brand's schema."""
    from guides.brand.models import Relationship, RelationshipStatus
    from members.brand.models import BrandMember

    window_start = paid_at - dt.timedelta(days=rules.click_window_days)
    read = share_token_read(share_token) if share_token else None
    if read is not None:
        link = share_link_resolve(read[0])
        if link is not None and link.brand_id == brand.pk and window_start <= read[1] <= paid_at + dt.timedelta(
                minutes=5) and _active(link.guide, brand):
            return Attribution(guide=link.guide, by="share_link", link=link)
    if member is not None:
        action = (ShareAction.objects.select_related("link__guide")
                  .filter(member_id=member.pk, kind=ShareActionKind.OPEN, link__brand=brand,
                          at__gte=window_start, at__lte=paid_at, link__guide__status=GuideStatus.ACTIVE)
                  .order_by("-at").first())
        if action is not None:
            return Attribution(guide=action.link.guide, by="share_link", link=action.link)
        if rules.use_current_guide:
            rel = (Relationship.objects.select_related("guide")
                   .filter(member=member, status=RelationshipStatus.ACTIVE, guide__status=GuideStatus.ACTIVE)
                   .order_by("-added_at", "-id").first())
            if rel is not None and _active(rel.guide, brand):
                return Attribution(guide=rel.guide, by="current_guide", link=None)
        if rules.use_first_guide:
            membership = BrandMember.objects.select_related("source_guide").filter(member=member).first()
            first = _active(membership.source_guide if membership else None, brand)
            if first is not None:
                return Attribution(guide=first, by="first_guide", link=None)
    return Attribution(guide=None, by="none", link=None)


@dataclass(frozen=True)
class OrderResult:
    order: object
    replayed: bool
    refund: object | None = None


def _check_order_input(*, order_id: str, amount_cents, channel: str, customer_lat, customer_lng) -> None:
    fields = {}
    if not (order_id or "").strip() or len(order_id) > 64:
        fields["order_id"] = ["1-64 characters. 1-64个字符。"]
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) or amount_cents <= 0:
        fields["amount_cents"] = ["A positive whole number of cents. 须为正整数(分)。"]
    if channel not in ORDER_CHANNELS:
        fields["channel"] = [f"One of {', '.join(ORDER_CHANNELS)}."]
    if (customer_lat is None) != (customer_lng is None):
        fields["customer_lat"] = ["Give both latitude and longitude. 经纬度须同时提供。"]
    elif customer_lat is not None and not (-90 <= customer_lat <= 90 and -180 <= customer_lng <= 180):
        fields["customer_lat"] = ["Out of range. 超出范围。"]
    if fields:
        raise AppError("Invalid order. 订单无效。", code="invalid_order", fields=fields)


ORDER_CHANNELS = ("mini_program", "pos", "live")


def order_paid(*, brand: Brand, order_id: str, amount_cents: int, paid_at: dt.datetime, channel: str,
               member_code: str = "", share_token: str = "", store_code: str = "",
               customer_lat: float | None = None, customer_lng: float | None = None,
               actor: str = "system") -> OrderResult:
    """Record a paid order at the brand, attribute it and pay everyone. Idempotent by order id.

    The member earns points on the one mall balance; the guide earns commission (the brand's rule)
    and coins/experience (the mall's rule); the share link's counters move. All in one transaction.
    """
    from .brand.models import CommissionEntry, CommissionRule, Order

    _check_order_input(order_id=order_id, amount_cents=amount_cents, channel=channel, customer_lat=customer_lat,
                       customer_lng=customer_lng)
    member = _member_by_code(member_code)
    store = None
    if store_code:
        store = Store.objects.filter(code=store_code).first()
        if store is None:
            raise AppError("Unknown store. 门店不存在。", code="store_not_found", fields={"store": ["Unknown store code."]})
    rules = AttributionSettings.current()
    with schema_context(brand.schema_name), transaction.atomic():
        existing = Order.objects.filter(order_id=order_id).first()
        if existing is not None:
            return _replay(existing, amount_cents=amount_cents, member=member)
        who = attribute(brand=brand, member=member, share_token=share_token, paid_at=paid_at, rules=rules)
        guide = who.guide
        counter = guide.counter if guide else None
        store = store or (counter.store if counter else None)
        distance = None
        if store is not None and customer_lat is not None:
            distance = _distance_km(customer_lat, customer_lng, store.latitude, store.longitude)
        points = amount_cents * rules.points_per_yuan // 100 if member else 0
        commission = amount_cents * CommissionRule.current().rate_bp // 10000 if guide else 0
        coins = amount_cents * rules.coins_per_100_yuan // 10000 if guide else 0
        exp = amount_cents * rules.exp_per_100_yuan // 10000 if guide else 0
        try:
            with transaction.atomic():
                order = Order.objects.create(
                    order_id=order_id, channel=channel, member=member, amount_cents=amount_cents, paid_at=paid_at,
                    guide=guide, counter=counter, store=store, attributed_by=who.by,
                    share_link_id=who.link.pk if who.link else None, points=points, commission_cents=commission,
                    coins=coins, exp=exp, cross_time=bool(store and not store.is_open_at(paid_at)),
                    cross_space=bool(distance is not None and Decimal(str(distance)) > rules.cross_space_km),
                    distance_km=Decimal(f"{distance:.2f}") if distance is not None else None)
        except IntegrityError:  # a concurrent delivery of the same order got there first
            return _replay(Order.objects.get(order_id=order_id), amount_cents=amount_cents, member=member)
        source_id = f"{brand.slug}:{order_id}"
        if points:
            member_services.points_earn(member=member, amount=points, idempotency_key=f"order:{source_id}",
                                        brand=brand, reason=f"订单 order {order_id}", actor=actor)
        if guide is not None:
            if commission:
                CommissionEntry.objects.create(guide=guide, order=order, amount_cents=commission,
                                               key=f"paid:{order_id}")
            if coins or exp:
                reward_credit(guide_id=guide.pk, coins=coins, exp=exp, source="order_paid", source_id=source_id,
                              note=f"订单 {order_id}")
        if who.link is not None:
            ShareLink.objects.filter(pk=who.link.pk).update(
                bought=F("bought") + 1, sales_cents=F("sales_cents") + amount_cents,
                commission_cents=F("commission_cents") + commission, updated_at=timezone.now())
            feed.changed_on_commit(link_id=who.link.pk, guide_id=guide.pk, event="bought")
        if guide is not None:
            feed.order_on_commit(brand_id=brand.pk, guide_id=guide.pk, order_pk=order.pk, paid_at=paid_at,
                                 amount_cents=amount_cents)
        audit(action="order.paid", actor=actor, brand=brand, member_id=member.pk if member else None,
              guide_id=guide.pk if guide else None, order_id=order_id, amount_cents=amount_cents,
              attributed_by=who.by, cross_time=order.cross_time, cross_space=order.cross_space)
    log.info("incentives.order_paid", extra={"tenant": brand.schema_name, "attributed_by": who.by})
    return OrderResult(order=order, replayed=False)


def _replay(order, *, amount_cents: int, member: Member | None) -> OrderResult:
    if order.amount_cents != amount_cents or order.member_id != (member.pk if member else None):
        raise Conflict("This order id was already used for a different order. 订单号已被另一订单使用。",
                       code="order_id_reused", fields={"order_id": ["Already used with other values."]})
    return OrderResult(order=order, replayed=True)


MAX_REFUND_LINES = 200


@dataclass(frozen=True)
class RefundLine:
    """One refunded line of an order (SKU, quantity, amount): kept on the refund for the record."""

    sku: str
    amount_cents: int
    quantity: int = 1


def _check_refund_input(*, refund_id: str, amount_cents, lines) -> int | None:
    """The refunded amount asked for (None: the rest of the order), after checking the input."""
    fields = {}
    if not isinstance(refund_id, str) or len(refund_id) > 64 or refund_id != refund_id.strip():
        fields["refund_id"] = ["Up to 64 characters. 最多64个字符。"]
    if amount_cents is not None and (not isinstance(amount_cents, int) or isinstance(amount_cents, bool)
                                     or amount_cents <= 0):
        fields["amount_cents"] = ["A positive whole number of cents. 须为正整数(分)。"]
    if lines is not None:
        if not lines or len(lines) > MAX_REFUND_LINES:
            fields["lines"] = [f"1-{MAX_REFUND_LINES} lines. 1-{MAX_REFUND_LINES}行。"]
        for index, line in enumerate(lines or ()):
            if not (line.sku or "").strip() or len(line.sku) > 64:
                fields[f"lines[{index}].sku"] = ["1-64 characters. 1-64个字符。"]
            for name in ("amount_cents", "quantity"):
                value = getattr(line, name)
                if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                    fields[f"lines[{index}].{name}"] = ["A positive whole number. 须为正整数。"]
    if fields:
        raise AppError("Invalid refund. 退款无效。", code="invalid_refund", fields=fields)
    if lines is not None:
        total = sum(line.amount_cents for line in lines)
        if amount_cents is not None and amount_cents != total:
            raise AppError("The lines do not add up to the amount. 退款明细合计与金额不符。", code="refund_lines_mismatch",
                           fields={"amount_cents": [f"The lines add up to {total}."]})
        amount_cents = total
    if amount_cents is not None and not refund_id:
        raise AppError("A partial refund needs a refund id. 部分退款须提供退款单号。", code="refund_id_required",
                       fields={"refund_id": ["Required with amount_cents or lines."]})
    return amount_cents


def _share(total: int, refunded: int, amount: int) -> int:
    """What refunding ``refunded`` of ``amount`` takes back of ``total`` in all: a floor, and all of it at the end."""
    return total if refunded >= amount else total * refunded // amount


def order_refunded(*, brand: Brand, order_id: str, refund_id: str = "", amount_cents: int | None = None,
                   lines: list[RefundLine] | None = None, refunded_at: dt.datetime | None = None,
                   actor: str = "system") -> OrderResult:
    """A refund of an order, whole or partial: reverse the member's points (as far as still unspent), the
    commission, the coins and experience, the share link's sales and the leaderboards' sales of the sale's day,
    each in proportion to the amount refunded (integer cents; see ``OrderRefund``).

    Without ``amount_cents`` or ``lines`` it refunds what is left of the order (after earlier partial refunds).
    Idempotent by ``refund_id`` within the order (a partial refund needs one; the full refund without an id is
    idempotent by the order). Refunds never add up to more than the order: ``refund_exceeds_order`` (409).
    """
    from .brand.models import CommissionEntry, Order, OrderRefund, OrderStatus

    amount_asked = _check_refund_input(refund_id=refund_id, amount_cents=amount_cents, lines=lines)
    refunded_at = refunded_at or timezone.now()
    with schema_context(brand.schema_name), transaction.atomic():
        # the order row lock puts the refunds of one order in a line: each sees what the previous took back
        order = Order.objects.select_for_update(of=("self",)).select_related("member").filter(order_id=order_id).first()
        if order is None:
            raise NotFound("Unknown order. 订单不存在。", code="order_not_found", fields={"order_id": ["Unknown order."]})
        existing = OrderRefund.objects.filter(order=order, refund_id=refund_id).first()
        if existing is not None:
            if amount_asked is not None and existing.amount_cents != amount_asked:
                raise Conflict("This refund id was already used for another amount. 退款单号已用于其他金额。",
                               code="refund_id_reused", fields={"refund_id": ["Already used with another amount."]})
            return OrderResult(order=order, replayed=True, refund=existing)
        left = order.amount_cents - order.refunded_cents
        if left == 0:
            if amount_asked is None and not refund_id:  # "refund it all" again: it is
                return OrderResult(order=order, replayed=True, refund=None)
            raise Conflict("The order is already fully refunded. 订单已全额退款。", code="order_already_refunded",
                           fields={"order_id": ["Nothing left to refund."]})
        amount = left if amount_asked is None else amount_asked
        if amount > left:
            raise Conflict(f"Only {left} cents are left to refund. 退款超过订单剩余金额（剩余 {left} 分）。",
                           code="refund_exceeds_order", fields={"amount_cents": [f"At most {left}."]})
        refunded = order.refunded_cents + amount
        full = refunded == order.amount_cents
        commission = _share(order.commission_cents, refunded, order.amount_cents) - order.commission_reversed_cents
        coins = _share(order.coins, refunded, order.amount_cents) - order.coins_reversed
        exp = _share(order.exp, refunded, order.amount_cents) - order.exp_reversed
        # points: what this refund brings the proportional share to, as far as the member has them unspent
        # (points spent in between stay spent; a later refund takes back what it can of the shortfall)
        points_due = _share(order.points, refunded, order.amount_cents) - order.points_reversed
        points = 0
        if points_due and order.member is not None:
            points = min(points_due, member_services.points_available(order.member))
        refund = OrderRefund.objects.create(
            order=order, refund_id=refund_id, amount_cents=amount, points=points_due, points_reversed=points,
            commission_cents=commission, coins=coins, exp=exp, refunded_at=refunded_at, actor=actor[:120],
            lines=[{"sku": line.sku, "quantity": line.quantity, "amount_cents": line.amount_cents}
                   for line in lines or ()])
        # ledger keys from the refund's row: one entry per refund, and never the key of a whole-order refund
        # written before partial refunds existed ("...:<order id>")
        source_id = f"{brand.slug}#{refund.pk}"
        what = f"订单退款 refund of order {order_id}" + (f" ({refund_id})" if refund_id else "")
        if points:
            member_services.points_adjust(member=order.member, amount=-points,
                                          idempotency_key=f"order-refund:{source_id}", reason=what, actor=actor,
                                          brand=brand)
        if order.guide_id and commission:
            CommissionEntry.objects.create(guide_id=order.guide_id, order=order, amount_cents=-commission,
                                           key=f"refund#{refund.pk}")
        if order.guide_id and (coins or exp):
            reward_credit(guide_id=order.guide_id, coins=-coins, exp=-exp, source="order_refunded",
                          source_id=source_id, note=f"退款 {order_id}"[:200])
        if order.share_link_id:
            ShareLink.objects.filter(pk=order.share_link_id).update(
                bought=F("bought") - (1 if full else 0), sales_cents=F("sales_cents") - amount,
                commission_cents=F("commission_cents") - commission, updated_at=timezone.now())
            feed.changed_on_commit(link_id=order.share_link_id, guide_id=order.guide_id, event="refunded")
        if order.guide_id:  # sales leave the boards of the sale's own day
            feed.order_on_commit(brand_id=brand.pk, guide_id=order.guide_id, order_pk=order.pk,
                                 paid_at=order.paid_at, amount_cents=-amount)
        Order.objects.filter(pk=order.pk).update(
            status=OrderStatus.REFUNDED if full else OrderStatus.PARTIALLY_REFUNDED, refunded_at=refunded_at,
            refunded_cents=refunded, points_reversed=F("points_reversed") + points,
            commission_reversed_cents=F("commission_reversed_cents") + commission,
            coins_reversed=F("coins_reversed") + coins, exp_reversed=F("exp_reversed") + exp)
        order.refresh_from_db()
        audit(action="order.refunded", actor=actor, brand=brand, member_id=order.member_id, guide_id=order.guide_id,
              order_id=order_id, refund_id=refund_id, amount_cents=amount, refunded_cents=refunded,
              points_reversed=points, commission_reversed_cents=commission)
    log.info("incentives.order_refunded", extra={"tenant": brand.schema_name, "full": full})
    return OrderResult(order=order, replayed=False, refund=refund)
