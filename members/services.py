"""Writes for members: enrolment (一码双会员), points ledger and tiers, coupons.

Everything here runs inside one transaction and either completes or writes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django_tenants.utils import schema_context

from scrm.errors import AppError, Conflict, Forbidden, NotFound
from tenants.models import Brand
from tenants.services import audit

from .identity import (
    encrypt,
    lookup_hash,
    member_code_is_valid,
    member_code_new,
    phone_mask,
    phone_normalize,
)
from .models import (
    CouponBase,
    CouponState,
    CouponTemplateBase,
    Gender,
    Member,
    MemberExternalId,
    PointsEntry,
    PointsKind,
    TierChange,
    TierRule,
)

logger = logging.getLogger(__name__)

POINTS_LIFETIME_DAYS = getattr(settings, "POINTS_LIFETIME_DAYS", 365)


# --------------------------------------------------------------------------- enrolment

@dataclass(frozen=True)
class Identity:
    """Whatever the caller knows about the person; at least one field is required."""

    external_userid: str = ""
    corp_id: str = ""
    unionid: str = ""
    phone: str = ""
    member_code: str = ""

    def lock_keys(self) -> list[str]:
        keys = []
        if self.external_userid:
            keys.append(f"ext:{self.corp_id}:{self.external_userid}")
        if self.unionid:
            keys.append(f"union:{self.unionid}")
        if self.phone:
            keys.append(f"phone:{lookup_hash(self.phone)}")
        if self.member_code:
            keys.append(f"code:{self.member_code}")
        return sorted(keys)


@dataclass(frozen=True)
class Profile:
    name: str = ""
    gender: str = ""
    birthday: dt.date | None = None
    marketing_consent: bool | None = None


@dataclass(frozen=True)
class EnrollResult:
    member: Member
    brand_member: object
    member_created: bool
    membership_created: bool


def _advisory_lock(key: str) -> None:
    """Serialise enrolments that share an identity (two scans of one QR at the same moment)."""
    number = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [number])


def _clean_identity(identity: Identity) -> Identity:
    phone = phone_normalize(identity.phone) if identity.phone else ""
    code = (identity.member_code or "").strip()
    if code and not member_code_is_valid(code):
        raise AppError("Invalid member code (check digit). 会员码无效。", code="invalid_member_code",
                       fields={"member_code": ["Invalid check digit."]})
    if identity.external_userid and not identity.corp_id:
        identity = Identity(**{**identity.__dict__, "corp_id": settings.WECOM_CORP_ID_DEFAULT})
    cleaned = Identity(
        external_userid=(identity.external_userid or "").strip(), corp_id=identity.corp_id,
        unionid=(identity.unionid or "").strip(), phone=phone, member_code=code,
    )
    if not cleaned.lock_keys():
        raise AppError("Give at least one of external_userid, unionid, phone or member_code. "
                       "请至少提供一种身份信息。", code="identity_required",
                       fields={"identity": ["At least one identity is required."]})
    return cleaned


def _members_matching(identity: Identity) -> set[int]:
    ids: set[int] = set()
    if identity.member_code:
        found = Member.objects.filter(code=identity.member_code).values_list("id", flat=True).first()
        if found is None:
            raise NotFound("No member has this code. 会员码不存在。", code="member_not_found",
                           fields={"member_code": ["Unknown."]})
        ids.add(found)
    if identity.unionid:
        ids.update(Member.objects.filter(unionid=identity.unionid).values_list("id", flat=True))
    if identity.phone:
        ids.update(Member.objects.filter(phone_hash=lookup_hash(identity.phone)).values_list("id", flat=True))
    if identity.external_userid:
        ids.update(MemberExternalId.objects.filter(
            corp_id=identity.corp_id, external_userid=identity.external_userid).values_list("member_id", flat=True))
    return ids


def _create_member(*, identity: Identity, profile: Profile, brand: Brand, guide, channel: str) -> Member:
    for _attempt in range(5):
        member = Member(
            code=member_code_new(), unionid=identity.unionid or None, name=profile.name[:50],
            gender=profile.gender or Gender.UNKNOWN, birthday=profile.birthday,
            marketing_consent=bool(profile.marketing_consent), first_brand=brand, first_guide=guide,
            first_channel=channel[:64], tier=_lowest_tier_code(),
        )
        if identity.phone:
            member.phone_hash = lookup_hash(identity.phone)
            member.phone_encrypted = encrypt(identity.phone)
            member.phone_masked = phone_mask(identity.phone)
        try:
            with transaction.atomic():
                member.save()
            return member
        except IntegrityError as exc:
            if "code" not in str(exc):
                raise
    raise AppError("Could not allocate a member code; try again.", code="code_exhausted", status=503)


def _attach_identities(member: Member, identity: Identity, profile: Profile, *, new: bool = False) -> None:
    if new:
        # _create_member wrote every identity field but the WeCom id; nobody else can hold that id, since no
        # member matched it and its advisory lock is ours: a plain insert, no get_or_create round trips
        if identity.external_userid:
            MemberExternalId.objects.create(corp_id=identity.corp_id, external_userid=identity.external_userid,
                                            member=member)
        return
    changed = []
    if identity.unionid and not member.unionid:
        member.unionid = identity.unionid
        changed.append("unionid")
    if identity.phone and not member.phone_hash:
        member.phone_hash = lookup_hash(identity.phone)
        member.phone_encrypted = encrypt(identity.phone)
        member.phone_masked = phone_mask(identity.phone)
        changed += ["phone_hash", "phone_encrypted", "phone_masked"]
    if profile.name and not member.name:
        member.name = profile.name[:50]
        changed.append("name")
    if profile.birthday and not member.birthday:
        member.birthday = profile.birthday
        changed.append("birthday")
    if profile.gender and member.gender == Gender.UNKNOWN:
        member.gender = profile.gender
        changed.append("gender")
    if changed:
        member.save(update_fields=[*changed, "updated_at"])
    if identity.external_userid:
        MemberExternalId.objects.get_or_create(
            corp_id=identity.corp_id, external_userid=identity.external_userid, defaults={"member": member}
        )


def member_enroll(
    *, brand: Brand, identity: Identity, profile: Profile | None = None, guide=None, channel: str = "",
    actor: str = "system",
) -> EnrollResult:
    """Find or create the mall member and make sure they are a member of ``brand``.

    Idempotent: enrolling the same person again returns the same Member and membership.
    Concurrent enrolments sharing an identity are serialised by advisory locks, so they
    create exactly one Member.
    """
    from members.brand.models import BrandMember

    profile = profile or Profile()
    identity = _clean_identity(identity)
    if not brand.is_active:
        raise Forbidden(f"Brand {brand.name} is suspended; no new enrolments. 品牌已停用，暂停入会。",
                        code="brand_suspended")
    if guide is not None and (guide.brand_id != brand.pk or not guide.is_active):
        raise AppError("The guide is not an active guide of this brand. 导购不属于该品牌或已离职。",
                       code="invalid_guide", fields={"guide": ["Not an active guide of this brand."]})
    with transaction.atomic():
        for key in identity.lock_keys():
            _advisory_lock(key)
        matches = _members_matching(identity)
        if len(matches) > 1:
            raise Conflict("These identities belong to different members; they will not be merged "
                           "automatically. 身份信息属于不同会员。", code="identity_conflict")
        member_created = not matches
        if member_created:
            member = _create_member(identity=identity, profile=profile, brand=brand, guide=guide, channel=channel)
        else:
            member = Member.objects.get(pk=matches.pop())
        _attach_identities(member, identity, profile, new=member_created)
        with schema_context(brand.schema_name):
            membership = {"joined_at": timezone.now(), "source_guide": guide, "source_channel": channel[:64]}
            if member_created:  # a member created a moment ago cannot be any brand's member yet
                brand_member, membership_created = BrandMember.objects.create(member=member, **membership), True
            else:
                brand_member, membership_created = BrandMember.objects.get_or_create(member=member,
                                                                                     defaults=membership)
        if member_created or membership_created:
            audit(action="member.enrolled", actor=actor, brand=brand, member_id=member.pk,
                  guide_id=getattr(guide, "pk", None), channel=channel, member_created=member_created)
    logger.info("member.enrolled", extra={"tenant": brand.schema_name, "member_id": member.pk,
                                          "member_created": member_created, "membership_created": membership_created})
    return EnrollResult(member, brand_member, member_created, membership_created)


@dataclass(frozen=True)
class Enrolment:
    """One person to enrol in ``brand`` (the arguments of ``member_enroll``), for ``members_enroll_new``."""

    brand: Brand
    identity: Identity
    profile: Profile = Profile()
    guide: object = None
    channel: str = ""


def _lock_many(keys: list[str]) -> None:
    """``_advisory_lock`` for every key, in one statement, in the order given (callers sort: no deadlock with
    ``member_enroll``, which takes each enrolment's keys sorted the same way)."""
    numbers = [int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True) for key in keys]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(%s::bigint[]) WITH ORDINALITY AS t(k, i)",
                       [numbers])


def members_enroll_new(*, enrolments: list[Enrolment], actor: str = "system") -> list[EnrollResult | None]:
    """Enrol many people the mall does not know yet, set-based: the common case of a burst of WeCom adds.

    For each enrolment: its result (a new Member, its WeCom id and its brand membership, like
    ``member_enroll`` creating one), or None when it is not a plain new person: an identity that already
    belongs to a member or appears earlier in the list, a phone or member code (they need their checks), a
    suspended brand, an inactive guide. The caller enrols those with ``member_enroll``, which merges and
    reuses. A handful of statements whatever the number of people. Must run inside the caller's transaction:
    the identities' advisory locks (the same as ``member_enroll``'s) are held until it ends.
    """
    from members.brand.models import BrandMember

    assert connection.in_atomic_block, "members_enroll_new needs the caller's transaction"
    results: list[EnrollResult | None] = [None] * len(enrolments)
    candidates: dict[int, Identity] = {}
    seen: set[str] = set()
    for n, enrolment in enumerate(enrolments):
        identity = enrolment.identity
        if identity.phone or identity.member_code or not (identity.external_userid or identity.unionid):
            continue
        identity = _clean_identity(identity)
        guide = enrolment.guide
        if not enrolment.brand.is_active or (guide is not None and (guide.brand_id != enrolment.brand.pk
                                                                    or not guide.is_active)):
            continue
        keys = identity.lock_keys()
        if seen.intersection(keys):
            continue
        seen.update(keys)
        candidates[n] = identity
    if not candidates:
        return results
    _lock_many(sorted(seen))
    known_ext = set(MemberExternalId.objects.filter(
        external_userid__in=[i.external_userid for i in candidates.values() if i.external_userid]
    ).values_list("corp_id", "external_userid"))
    known_union = set(Member.objects.filter(
        unionid__in=[i.unionid for i in candidates.values() if i.unionid]).values_list("unionid", flat=True))
    candidates = {n: i for n, i in candidates.items()
                  if (i.corp_id, i.external_userid) not in known_ext and i.unionid not in known_union}
    if not candidates:
        return results
    tier = _lowest_tier_code()
    members = {}
    for n, identity in candidates.items():
        enrolment = enrolments[n]
        members[n] = Member(code=member_code_new(), unionid=identity.unionid or None,
                            name=enrolment.profile.name[:50], gender=enrolment.profile.gender or Gender.UNKNOWN,
                            birthday=enrolment.profile.birthday,
                            marketing_consent=bool(enrolment.profile.marketing_consent),
                            first_brand=enrolment.brand, first_guide=enrolment.guide,
                            first_channel=enrolment.channel[:64], tier=tier)
    for attempt in range(5):
        try:
            with transaction.atomic():
                Member.objects.bulk_create(list(members.values()))
            break
        except IntegrityError as exc:  # a member code taken (1 in 10^8 per code): draw them all again
            if "code" not in str(exc) or attempt == 4:
                raise
            for member in members.values():
                member.code = member_code_new()
    MemberExternalId.objects.bulk_create([
        MemberExternalId(corp_id=candidates[n].corp_id, external_userid=candidates[n].external_userid, member=member)
        for n, member in members.items() if candidates[n].external_userid])
    joined_at = timezone.now()
    by_schema: dict[str, list[int]] = {}
    for n in members:
        by_schema.setdefault(enrolments[n].brand.schema_name, []).append(n)
    for schema, ns in by_schema.items():
        with schema_context(schema):
            memberships = BrandMember.objects.bulk_create([
                BrandMember(member=members[n], joined_at=joined_at, source_guide=enrolments[n].guide,
                            source_channel=enrolments[n].channel[:64]) for n in ns])
        for n, membership in zip(ns, memberships, strict=True):
            results[n] = EnrollResult(members[n], membership, True, True)
    from tenants.services import audit_many

    audit_many([{"action": "member.enrolled", "actor": actor, "brand": enrolments[n].brand, "member_id": member.pk,
                 "guide_id": getattr(enrolments[n].guide, "pk", None), "channel": enrolments[n].channel,
                 "member_created": True} for n, member in members.items()])
    logger.info("member.enrolled_many", extra={"count": len(members)})
    return results


# --------------------------------------------------------------------------- points and tiers

def _lowest_tier_code() -> str:
    return TierRule.objects.order_by("min_points_12m").values_list("code", flat=True).first() or "normal"


def _existing_entry(key: str, *, member: Member, kind: str, amount: int) -> PointsEntry | None:
    entry = PointsEntry.objects.filter(idempotency_key=key).first()
    if entry is None:
        return None
    if entry.member_id != member.pk or entry.kind != kind or entry.amount != amount:
        raise Conflict("This idempotency key was already used for a different points entry. "
                       "幂等键已被其他积分流水使用。", code="idempotency_key_reused",
                       fields={"idempotency_key": ["Already used."]})
    return entry


def _check_amount(amount) -> int:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise AppError("Points must be a positive whole number. 积分须为正整数。", code="invalid_amount",
                       fields={"amount": ["Must be a positive integer."]})
    return amount


def _check_key(key: str) -> str:
    if not key or len(key) > 120:
        raise AppError("An idempotency key (1-120 characters) is required. 需要幂等键。",
                       code="idempotency_key_required", fields={"idempotency_key": ["Required."]})
    return key


def _lock_member(member: Member) -> Member:
    return Member.objects.select_for_update().get(pk=member.pk)


def points_available(member: Member, *, now: dt.datetime | None = None) -> int:
    """What the member can spend now: open lots not yet past their expiry."""
    now = now or timezone.now()
    return PointsEntry.objects.filter(member=member, remaining__gt=0, expires_at__gt=now).aggregate(
        total=Sum("remaining"))["total"] or 0


def _consume_lots(member: Member, amount: int, now: dt.datetime) -> None:
    """Take ``amount`` from the member's open lots, the ones expiring first first."""
    lots = (PointsEntry.objects.select_for_update()
            .filter(member=member, remaining__gt=0, expires_at__gt=now).order_by("expires_at", "id"))
    left = amount
    for lot in lots:
        take = min(left, lot.remaining)
        PointsEntry.objects.filter(pk=lot.pk).update(remaining=F("remaining") - take)
        left -= take
        if left == 0:
            return
    raise AssertionError("caller checked availability under the member lock")


def _write_entry(*, member: Member, kind: str, amount: int, key: str, brand: Brand | None, reason: str,
                 actor: str, expires_at: dt.datetime | None = None) -> PointsEntry:
    entry = PointsEntry.objects.create(
        member=member, kind=kind, amount=amount, remaining=amount if amount > 0 else 0,
        expires_at=expires_at if amount > 0 else None, brand=brand, idempotency_key=key,
        reason=reason[:200], actor=actor,
    )
    Member.objects.filter(pk=member.pk).update(points_balance=F("points_balance") + amount)
    member.refresh_from_db(fields=["points_balance", "tier"])
    tier_evaluate(member=member, entry=entry)
    audit(action=f"points.{kind}", actor=actor, brand=brand, member_id=member.pk, amount=amount, key=key)
    return entry


def default_expiry(now: dt.datetime) -> dt.datetime:
    local = timezone.localtime(now) + dt.timedelta(days=POINTS_LIFETIME_DAYS)
    return local.replace(hour=23, minute=59, second=59, microsecond=0)


def points_earn(*, member: Member, amount: int, idempotency_key: str, brand: Brand | None = None,
                reason: str = "", actor: str = "system", expires_at: dt.datetime | None = None) -> PointsEntry:
    """Credit points to the one mall balance (wherever they were earned). Idempotent by key."""
    amount, key = _check_amount(amount), _check_key(idempotency_key)
    with transaction.atomic():
        member = _lock_member(member)
        existing = _existing_entry(key, member=member, kind=PointsKind.EARN, amount=amount)
        if existing:
            return existing
        now = timezone.now()
        return _write_entry(member=member, kind=PointsKind.EARN, amount=amount, key=key, brand=brand,
                            reason=reason, actor=actor, expires_at=expires_at or default_expiry(now))


def _debit(*, member: Member, kind: str, amount: int, key: str, brand, reason: str, actor: str) -> PointsEntry:
    with transaction.atomic():
        member = _lock_member(member)
        existing = _existing_entry(key, member=member, kind=kind, amount=-amount)
        if existing:
            return existing
        now = timezone.now()
        available = points_available(member, now=now)
        if amount > available:
            raise Conflict(f"Only {available} points are available. 可用积分不足（可用 {available}）。",
                           code="insufficient_points", fields={"amount": [f"At most {available}."]})
        _consume_lots(member, amount, now)
        return _write_entry(member=member, kind=kind, amount=-amount, key=key, brand=brand, reason=reason,
                            actor=actor)


def points_redeem(*, member: Member, amount: int, idempotency_key: str, brand: Brand | None = None,
                  reason: str = "", actor: str = "system") -> PointsEntry:
    """Spend points, oldest lots first; never more than is available. Idempotent by key."""
    return _debit(member=member, kind=PointsKind.REDEEM, amount=_check_amount(amount),
                  key=_check_key(idempotency_key), brand=brand, reason=reason, actor=actor)


def points_adjust(*, member: Member, amount: int, idempotency_key: str, reason: str, actor: str,
                  brand: Brand | None = None) -> PointsEntry:
    """A manual correction by mall staff: positive adds a lot, negative takes from the oldest lots."""
    if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0:
        raise AppError("Adjustment must be a non-zero whole number. 调整积分须为非零整数。", code="invalid_amount",
                       fields={"amount": ["Must be a non-zero integer."]})
    if not (reason or "").strip():
        raise AppError("An adjustment needs a reason. 调整积分须填写原因。", code="reason_required",
                       fields={"reason": ["Required."]})
    key = _check_key(idempotency_key)
    if amount < 0:
        return _debit(member=member, kind=PointsKind.ADJUST, amount=-amount, key=key, brand=brand,
                      reason=reason, actor=actor)
    with transaction.atomic():
        member = _lock_member(member)
        existing = _existing_entry(key, member=member, kind=PointsKind.ADJUST, amount=amount)
        if existing:
            return existing
        return _write_entry(member=member, kind=PointsKind.ADJUST, amount=amount, key=key, brand=brand,
                            reason=reason, actor=actor, expires_at=default_expiry(timezone.now()))


def points_expire_due(*, now: dt.datetime | None = None) -> int:
    """Expire every lot past its expiry in three set-based statements. Safe to run twice."""
    now = now or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            WITH due AS (
                SELECT id, member_id, remaining FROM members_pointsentry
                WHERE remaining > 0 AND expires_at <= %(now)s
                FOR UPDATE
            ), written AS (
                INSERT INTO members_pointsentry
                    (member_id, kind, amount, remaining, expires_at, brand_id, idempotency_key, reason, actor, created_at)
                SELECT member_id, 'expire', -remaining, 0, NULL, NULL, 'expire:' || id, 'lot ' || id || ' expired',
                       'system', %(now)s
                FROM due
                ON CONFLICT (idempotency_key) DO NOTHING
                RETURNING member_id, amount
            ), emptied AS (
                UPDATE members_pointsentry p SET remaining = 0 FROM due WHERE p.id = due.id
            ), per_member AS (
                SELECT member_id, SUM(amount) AS delta FROM written GROUP BY member_id
            )
            UPDATE members_member m SET points_balance = m.points_balance + per_member.delta, updated_at = %(now)s
            FROM per_member WHERE m.id = per_member.member_id
            """,
            {"now": now},
        )
        return cursor.rowcount


def points_balance_rebuild(*, member: Member) -> int:
    """Recompute the cached balance from the ledger (the ledger is the record)."""
    with transaction.atomic():
        total = PointsEntry.objects.filter(member=member).aggregate(t=Sum("amount"))["t"] or 0
        Member.objects.filter(pk=member.pk).update(points_balance=total)
    return total


def points_earned_12m(member: Member, *, now: dt.datetime | None = None) -> int:
    since = (now or timezone.now()) - dt.timedelta(days=365)
    return PointsEntry.objects.filter(
        member=member, created_at__gte=since, amount__gt=0, kind__in=[PointsKind.EARN, PointsKind.ADJUST]
    ).aggregate(t=Sum("amount"))["t"] or 0


def tier_for_points(points: int) -> str:
    rule = TierRule.objects.filter(min_points_12m__lte=points).order_by("-min_points_12m").first()
    return rule.code if rule else "normal"


def tier_evaluate(*, member: Member, entry: PointsEntry | None = None) -> TierChange | None:
    """Re-evaluate the member's tier from rolling 12-month points; record a TierChange event."""
    new_tier = tier_for_points(points_earned_12m(member))
    if new_tier == member.tier:
        return None
    ranks = list(TierRule.objects.order_by("min_points_12m").values_list("code", flat=True))
    old_rank = ranks.index(member.tier) if member.tier in ranks else -1
    change = TierChange.objects.create(member=member, from_tier=member.tier, to_tier=new_tier,
                                       is_upgrade=ranks.index(new_tier) > old_rank, entry=entry)
    Member.objects.filter(pk=member.pk).update(tier=new_tier)
    member.tier = new_tier
    audit(action="member.tier_changed", member_id=member.pk, from_tier=change.from_tier, to_tier=new_tier)
    return change


def tiers_reevaluate_window(*, now: dt.datetime | None = None, band_days: int = 2) -> int:
    """Re-evaluate the members whose earned points just left the rolling 12-month window.

    Only members with a positive entry created 365..365+band_days days ago are touched, so the
    nightly cost follows the points that expire from the window, not the number of members.
    """
    now = now or timezone.now()
    window_start = now - dt.timedelta(days=365)
    member_ids = (PointsEntry.objects.filter(
        amount__gt=0, kind__in=[PointsKind.EARN, PointsKind.ADJUST],
        created_at__lt=window_start, created_at__gte=window_start - dt.timedelta(days=band_days),
    ).values_list("member_id", flat=True).distinct())
    changed = 0
    for member in Member.objects.filter(pk__in=member_ids).exclude(tier=_lowest_tier_code()).iterator():
        with transaction.atomic():
            if tier_evaluate(member=_lock_member(member)):
                changed += 1
    return changed


# --------------------------------------------------------------------------- coupons

COUPON_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at a counter


def coupon_code_new(prefix: str) -> str:
    return prefix + "".join(secrets.choice(COUPON_ALPHABET) for _ in range(11))


def coupon_valid_until(template: CouponTemplateBase, *, now: dt.datetime) -> dt.datetime:
    """Until when a coupon of ``template`` issued ``now`` is valid; Conflict when it cannot be issued now."""
    if not template.is_active or (template.valid_until and template.valid_until <= now) or (
            template.valid_from and template.valid_from > now and not template.valid_days):
        raise Conflict("This coupon cannot be issued now (inactive or outside its validity). 该券当前不可发放。",
                       code="coupon_unavailable")
    valid_until = (now + dt.timedelta(days=template.valid_days)) if template.valid_days else template.valid_until
    if template.valid_until and valid_until > template.valid_until:
        valid_until = template.valid_until
    if valid_until is None:
        raise Conflict("The coupon template has no validity. 券模板未设置有效期。", code="coupon_unavailable")
    return valid_until


def coupon_issue(*, template: CouponTemplateBase, member: Member, guide=None, channel: str = "",
                 actor: str = "system", now: dt.datetime | None = None) -> CouponBase:
    """Issue one coupon of ``template`` to ``member`` (mall or brand coupon: the current schema's)."""
    now = now or timezone.now()
    model = template.coupons.model
    valid_until = coupon_valid_until(template, now=now)
    with transaction.atomic():
        taken = type(template).objects.filter(pk=template.pk).filter(
            Q(stock__isnull=True) | Q(issued_count__lt=F("stock"))).update(issued_count=F("issued_count") + 1)
        if not taken:
            raise Conflict("This coupon is out of stock. 券已发完。", code="coupon_out_of_stock")
        prefix = "M" if connection.schema_name == "public" else "B"
        coupon = model.objects.create(template=template, member=member, code=coupon_code_new(prefix),
                                      valid_until=valid_until, issued_by_guide=guide, channel=channel[:64])
        audit(action="coupon.issued", actor=actor, member_id=member.pk, code=coupon.code,
              schema=connection.schema_name)
    return coupon


def coupon_view(*, coupon: CouponBase, now: dt.datetime | None = None) -> CouponBase:
    """The member opened the coupon (funnel step issued -> viewed). Repeated views change nothing."""
    now = now or timezone.now()
    type(coupon).objects.filter(pk=coupon.pk, state=CouponState.ISSUED).update(state=CouponState.VIEWED,
                                                                               viewed_at=now)
    coupon.refresh_from_db()
    return coupon


def coupon_redeem(*, coupon: CouponBase, redemption_id: str, store=None, order_amount_cents: int | None = None,
                  actor: str = "system", now: dt.datetime | None = None) -> tuple[CouponBase, bool]:
    """Redeem at the POS. Idempotent by ``redemption_id``; returns (coupon, replayed)."""
    now = now or timezone.now()
    redemption_id = (redemption_id or "").strip()
    if not redemption_id or len(redemption_id) > 64:
        raise AppError("A redemption id (1-64 characters) is required. 需要核销单号。",
                       code="redemption_id_required", fields={"redemption_id": ["Required."]})
    model = type(coupon)
    with transaction.atomic():
        coupon = model.objects.select_for_update().select_related("template").get(pk=coupon.pk)
        if coupon.state == CouponState.REDEEMED:
            if coupon.redemption_id == redemption_id:
                return coupon, True
            raise Conflict("This coupon was already redeemed. 该券已核销。", code="coupon_already_redeemed")
        if model.objects.filter(redemption_id=redemption_id).exists():
            raise Conflict("This redemption id was already used for another coupon. 核销单号已被使用。",
                           code="redemption_id_reused", fields={"redemption_id": ["Already used."]})
        if coupon.state == CouponState.EXPIRED or coupon.valid_until <= now:
            raise Conflict("This coupon has expired. 该券已过期。", code="coupon_expired")
        threshold = coupon.template.threshold_cents
        if order_amount_cents is not None and order_amount_cents < threshold:
            raise Conflict(f"The order does not reach the coupon threshold of ¥{threshold / 100:.2f}. 未达到用券门槛。",
                           code="coupon_threshold_not_met", fields={"order_amount_cents": ["Below threshold."]})
        coupon.state = CouponState.REDEEMED
        coupon.redeemed_at = now
        coupon.viewed_at = coupon.viewed_at or now
        coupon.redemption_id = redemption_id
        coupon.redeemed_store = store
        coupon.save(update_fields=["state", "redeemed_at", "viewed_at", "redemption_id", "redeemed_store"])
        audit(action="coupon.redeemed", actor=actor, member_id=coupon.member_id, code=coupon.code,
              redemption_id=redemption_id, schema=connection.schema_name)
    return coupon, False


def coupons_expire_due(*, model, now: dt.datetime | None = None) -> int:
    """Set-based: every issued/viewed coupon past its validity becomes expired."""
    now = now or timezone.now()
    return model.objects.filter(state__in=[CouponState.ISSUED, CouponState.VIEWED], valid_until__lte=now).update(
        state=CouponState.EXPIRED, expired_at=now)
