"""Writes for campaign tasks (活动任务): save a draft, publish it (and announce it to the audience by WeCom app
message), claim it, measure progress from the record, settle the rewards when it ends.

The mall creates campaigns for any audience (Django admin); a brand manager for the brand's own guides (brand
dashboard). Every surface calls these functions; validation lives here, with Chinese-first messages.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from guides.models import Guide
from scrm.errors import AppError, Conflict, Forbidden, NotFound
from tenants.models import Brand, Counter, Store
from tenants.services import audit

from . import selectors
from .models import (
    Campaign,
    CampaignAudience,
    CampaignClaim,
    CampaignMetric,
    CampaignNotice,
    CampaignState,
    NoticeStatus,
)

log = logging.getLogger(__name__)

NOTICE_CHUNK = 1000  # message/send takes at most 1000 userids, '|'-joined (reference/wecom-api.md)
MAX_DAYS = 92
MAX_REWARD = 100_000
MAX_TARGET = 10**12
MAX_TOP_N = 100
# Settled this long after the end: order events that arrive a little late (POS batches, retried deliveries)
# still count for the window they were paid in.
SETTLE_GRACE = dt.timedelta(minutes=30)
REWARD_SOURCE = "campaign"  # ledger source; source_id is the campaign id: one entry per guide and campaign


# --------------------------------------------------------------------------- validation and drafts

def _whole(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _ids(values) -> list[int]:
    return sorted({int(getattr(v, "pk", v)) for v in values or ()})


def campaign_validate(*, owner: Brand | None, title: str, audience: str, starts_at, ends_at, metric: str,
                      target, description: str = "", script: str = "", store_ids=(), brand_ids=(), counter_ids=(),
                      reward_coins=0, reward_exp=0, top_n=0, top_coins=0, top_exp=0) -> dict:
    """Check a campaign's settings; return them cleaned or raise AppError with every field's problem.

    A brand campaign (``owner`` set) reaches only the brand's own guides: its stores must have one of the
    brand's counters, its counters must be the brand's, and "brands" is not an audience it can choose.
    """
    fields: dict[str, list[str]] = {}
    title, description, script = (title or "").strip(), (description or "").strip(), (script or "").strip()
    if not 1 <= len(title) <= 100:
        fields["title"] = ["请填写标题，最多100字 Title: 1-100 characters."]
    if len(description) > 2000:
        fields["description"] = ["最多2000字 At most 2000 characters."]
    if len(script) > 2000:
        fields["script"] = ["最多2000字 At most 2000 characters."]
    store_ids, brand_ids, counter_ids = _ids(store_ids), _ids(brand_ids), _ids(counter_ids)
    if audience not in CampaignAudience.values:
        fields["audience"] = ["请选择参与对象 Choose an audience."]
    elif audience == CampaignAudience.BRANDS:
        if owner is not None:
            fields["audience"] = ["品牌活动只面向本品牌导购，请选全部、门店或专柜 A brand campaign reaches its own "
                                  "guides only: choose all, stores or counters."]
        elif not brand_ids or Brand.objects.filter(pk__in=brand_ids).count() != len(brand_ids):
            fields["brands"] = ["请至少选择一个品牌 Choose at least one brand."]
    elif audience == CampaignAudience.STORES:
        stores = Store.objects.filter(pk__in=store_ids)
        if owner is not None:
            stores = stores.filter(counters__brand_id=owner.pk).distinct()
        if not store_ids or stores.count() != len(store_ids):
            fields["stores"] = ["请至少选择一个门店（品牌活动只能选有本品牌专柜的门店） Choose at least one store "
                                "(for a brand campaign, stores with one of its counters)."]
    elif audience == CampaignAudience.COUNTERS:
        counters = Counter.objects.filter(pk__in=counter_ids)
        if owner is not None:
            counters = counters.filter(brand_id=owner.pk)
        if not counter_ids or counters.count() != len(counter_ids):
            fields["counters"] = ["请至少选择一个专柜（品牌活动只能选本品牌专柜） Choose at least one counter "
                                  "(for a brand campaign, its own counters)."]
    if not isinstance(starts_at, dt.datetime):
        fields["starts_at"] = ["请填写开始时间 Enter the start."]
    if not isinstance(ends_at, dt.datetime):
        fields["ends_at"] = ["请填写结束时间 Enter the end."]
    elif isinstance(starts_at, dt.datetime):
        if ends_at <= starts_at:
            fields["ends_at"] = ["结束时间须晚于开始时间 The end must be after the start."]
        elif ends_at - starts_at > dt.timedelta(days=MAX_DAYS):
            fields["ends_at"] = [f"活动最长{MAX_DAYS}天 A campaign lasts at most {MAX_DAYS} days."]
    if metric not in CampaignMetric.values:
        fields["metric"] = ["请选择目标指标 Choose a goal metric."]
    if not _whole(target, 1, MAX_TARGET):
        fields["target"] = ["每人目标须为正整数（销售额以分计） The target must be a positive whole number "
                            "(sales in cents)."]
    for name, value in (("reward_coins", reward_coins), ("reward_exp", reward_exp), ("top_coins", top_coins),
                        ("top_exp", top_exp)):
        if not _whole(value, 0, MAX_REWARD):
            fields[name] = [f"须为0-{MAX_REWARD}的整数 A whole number from 0 to {MAX_REWARD}."]
    if not _whole(top_n, 0, MAX_TOP_N):
        fields["top_n"] = [f"须为0-{MAX_TOP_N}的整数 A whole number from 0 to {MAX_TOP_N}."]
    if not {"reward_coins", "reward_exp"} & set(fields) and reward_coins == 0 and reward_exp == 0:
        fields["reward_coins"] = ["达标奖励的金币和经验不能都为0 Give coins or experience for reaching the target."]
    if not {"top_n", "top_coins", "top_exp"} & set(fields):
        if top_n and top_coins == 0 and top_exp == 0:
            fields["top_coins"] = ["设了前N名，请填加奖金币或经验 With a top N, give bonus coins or experience."]
        elif not top_n and (top_coins or top_exp):
            fields["top_n"] = ["有加奖时请填N Enter N for the top-N bonus."]
    if fields:
        raise AppError("活动设置有误 The campaign has invalid settings.", code="invalid_campaign", fields=fields)
    return {"title": title, "description": description, "script": script, "audience": audience,
            "store_ids": store_ids if audience == CampaignAudience.STORES else [],
            "brand_ids": brand_ids if audience == CampaignAudience.BRANDS else [],
            "counter_ids": counter_ids if audience == CampaignAudience.COUNTERS else [],
            "starts_at": starts_at, "ends_at": ends_at, "metric": metric, "target": target,
            "reward_coins": reward_coins, "reward_exp": reward_exp, "top_n": top_n,
            "top_coins": top_coins if top_n else 0, "top_exp": top_exp if top_n else 0}


def _owned(owner: Brand | None):
    return Campaign.objects.filter(brand__isnull=True) if owner is None else Campaign.objects.filter(brand=owner)


def campaign_save(*, owner: Brand | None, actor: str, campaign_id: int | None = None, **settings_) -> Campaign:
    """Create a draft campaign, or change a draft the same owner has (a published one is fixed: guides have
    claimed it on its terms)."""
    data = campaign_validate(owner=owner, **settings_)
    ids = {name: data.pop(f"{name[:-1]}_ids") for name in ("stores", "brands", "counters")}
    with transaction.atomic():
        if campaign_id is None:
            campaign = Campaign.objects.create(brand=owner, created_by=actor[:120], **data)
        else:
            campaign = _owned(owner).select_for_update().filter(pk=campaign_id).first()
            if campaign is None:
                raise NotFound("活动不存在 Campaign not found", code="campaign_not_found")
            if campaign.state != CampaignState.DRAFT:
                raise Conflict("只有草稿可以修改 Only a draft can be changed", code="campaign_not_draft")
            for name, value in data.items():
                setattr(campaign, name, value)
            campaign.save()
        for name, values in ids.items():
            getattr(campaign, name).set(values)
        audit(action="campaign.saved", actor=actor, brand=owner, campaign_id=campaign.pk)
    return campaign


def campaign_publish(*, owner: Brand | None, campaign_id: int, actor: str, now: dt.datetime | None = None) -> Campaign:
    """Publish a draft: guides see it at once in the sidebar, and one WeCom app message per 1000 of them goes
    out after commit. Publishing a published campaign again changes nothing and messages nobody."""
    from .tasks import campaign_notify

    now = now or timezone.now()
    with transaction.atomic():
        campaign = _owned(owner).select_for_update().filter(pk=campaign_id).first()
        if campaign is None:
            raise NotFound("活动不存在 Campaign not found", code="campaign_not_found")
        if campaign.state == CampaignState.PUBLISHED:
            return campaign
        if campaign.state != CampaignState.DRAFT:
            raise Conflict("活动已结算 The campaign is settled", code="campaign_settled")
        if campaign.ends_at <= now:
            raise AppError("结束时间已过，请先修改 The end is in the past: change it first", code="campaign_ended",
                           fields={"ends_at": ["结束时间已过 The end is in the past."]})
        if not selectors.audience_guides(campaign).exists():
            raise AppError("参与对象中没有在职导购 No active guide in this audience", code="audience_empty",
                           fields={"audience": ["没有在职导购 No active guide."]})
        campaign.state, campaign.published_at = CampaignState.PUBLISHED, now
        campaign.save(update_fields=["state", "published_at"])
        audit(action="campaign.published", actor=actor, brand=owner, campaign_id=campaign.pk)
        transaction.on_commit(lambda: _enqueue(campaign_notify, campaign.pk))
    log.info("campaigns.published", extra={"campaign_id": campaign.pk, "tenant": owner.schema_name if owner else "public"})
    return campaign


def _enqueue(task, campaign_id: int) -> None:
    from kombu.exceptions import OperationalError

    try:
        task.delay(campaign_id)
    except (OperationalError, ConnectionError):  # broker down: the 5-minute sweep (live_dispatch) sends it instead
        log.warning("campaigns.enqueue_failed", extra={"campaign_id": campaign_id}, exc_info=True)


# --------------------------------------------------------------------------- the WeCom announcement

def notice_text(campaign: Campaign) -> str:
    """The app message (it goes to guides: Chinese first, English second; well under 2048 bytes)."""
    start, end = timezone.localtime(campaign.starts_at), timezone.localtime(campaign.ends_at)
    metric = CampaignMetric(campaign.metric).label
    reward = f"{campaign.reward_coins} 金币 coins · {campaign.reward_exp} 经验 exp"
    if campaign.top_n:
        reward += f"；前{campaign.top_n}名再加 top {campaign.top_n} +{campaign.top_coins} 金币 / +{campaign.top_exp} 经验"
    url = settings.PUBLIC_BASE_URL.rstrip("/") + reverse("sidebar:campaigns", urlconf=settings.PUBLIC_SCHEMA_URLCONF)
    return (f"【活动任务 Campaign】{campaign.title}\n"
            f"时间 When：{start:%m-%d %H:%M} – {end:%m-%d %H:%M}\n"
            f"目标 Goal：{metric} ≥ {campaign.target_label}\n"
            f"奖励 Reward：{reward}\n"
            f"打开侧边栏领取 Claim it in the sidebar：{url}")


def _send(notice: CampaignNotice, userids: list[str], text: str) -> bool:
    from wecom.client import RateLimited, WeComError, mall_client

    try:
        result = mall_client(agent=True).message.send_text(settings.WECOM_AGENT_ID, userids, text)
    except RateLimited as exc:
        CampaignNotice.objects.filter(pk=notice.pk).update(status=NoticeStatus.RETRY, errcode=exc.errcode)
        raise  # the Celery task backs off and runs again; this chunk is sent first then
    except WeComError as exc:
        # errcode None: we never heard back, WeCom may have delivered it; sending again could message twice
        status = NoticeStatus.UNKNOWN if exc.errcode is None else NoticeStatus.FAILED
        CampaignNotice.objects.filter(pk=notice.pk).update(status=status, errcode=exc.errcode)
        log.warning("campaigns.notice_failed", extra={"campaign_id": notice.campaign_id, "seq": notice.seq,
                                                      "errcode": exc.errcode})
        return False
    invalid = [u for u in str(result.get("invaliduser") or "").split("|") if u]
    CampaignNotice.objects.filter(pk=notice.pk).update(status=NoticeStatus.SENT, errcode=0, sent_at=timezone.now(),
                                                       msgid=str(result.get("msgid") or "")[:64],
                                                       invalid_users=len(invalid))
    return True


def campaign_notify(*, campaign_id: int, now: dt.datetime | None = None) -> int:
    """Message the campaign's audience, 1000 guides per message/send, each guide at most once. Returns the
    number of chunks sent now.

    Chunks follow guide ids: each CampaignNotice row is written (unique per campaign and chunk number) before
    its call, so a re-run, or a second worker at the same time, carries on after the last chunk written.
    Guides hired into the audience later are messaged by a later run; nobody is messaged twice.
    """
    now = now or timezone.now()
    campaign = Campaign.objects.filter(pk=campaign_id, state=CampaignState.PUBLISHED, ends_at__gt=now).first()
    if campaign is None:
        return 0
    text, audience, sent = notice_text(campaign), selectors.audience_guides(campaign), 0
    for notice in list(campaign.notices.filter(status=NoticeStatus.RETRY).order_by("seq")):
        if CampaignNotice.objects.filter(pk=notice.pk, status=NoticeStatus.RETRY).update(status=NoticeStatus.SENDING):
            userids = list(audience.filter(pk__gte=notice.first_guide_id, pk__lte=notice.last_guide_id)
                           .order_by("pk").values_list("wecom_userid", flat=True))
            sent += _send(notice, userids, text) if userids else 0
    while True:
        last = campaign.notices.order_by("-seq").values("seq", "last_guide_id").first()
        seq, after = (last["seq"] + 1, last["last_guide_id"]) if last else (1, 0)
        rows = list(audience.filter(pk__gt=after).order_by("pk").values_list("pk", "wecom_userid")[:NOTICE_CHUNK])
        if not rows:
            break
        try:
            with transaction.atomic():
                notice = CampaignNotice.objects.create(campaign=campaign, seq=seq, first_guide_id=rows[0][0],
                                                       last_guide_id=rows[-1][0], recipients=len(rows))
        except IntegrityError:
            continue  # another worker took this chunk: look again after it
        sent += _send(notice, [userid for _, userid in rows], text)
    if sent:
        log.info("campaigns.notified", extra={"campaign_id": campaign.pk, "chunks": sent})
    return sent


# --------------------------------------------------------------------------- claims

def campaign_claim(*, guide: Guide, campaign_id: int, now: dt.datetime | None = None) -> CampaignClaim:
    """The guide takes part (领取). Only a published campaign of the mall or of the guide's own brand whose
    audience includes the guide, before it ends. Claiming again returns the same claim."""
    now = now or timezone.now()
    campaign = (_visible_to_guide(guide).filter(pk=campaign_id).exclude(state=CampaignState.DRAFT).first())
    if campaign is None:
        raise NotFound("活动不存在 Campaign not found", code="campaign_not_found")
    existing = CampaignClaim.objects.filter(campaign=campaign, guide_id=guide.pk).first()
    if existing is not None:
        return existing
    if not guide.is_active:
        raise Forbidden("您已离职 You have left the brand", code="guide_resigned")
    if campaign.state == CampaignState.SETTLED or campaign.ends_at <= now:
        raise Conflict("活动已结束 The campaign has ended", code="campaign_ended")
    if not selectors.guide_in_audience(campaign, guide):
        raise Forbidden("您不在本活动的参与范围内 You are not in this campaign's audience", code="not_in_audience")
    with transaction.atomic():
        claim, created = CampaignClaim.objects.get_or_create(campaign=campaign, guide_id=guide.pk)
        if created:
            audit(action="campaign.claimed", actor=f"guide:{guide.pk}", brand=guide.brand, guide_id=guide.pk,
                  campaign_id=campaign.pk)
    return claim


def _visible_to_guide(guide: Guide):
    from django.db.models import Q

    return Campaign.objects.filter(Q(brand__isnull=True) | Q(brand_id=guide.brand_id))


# --------------------------------------------------------------------------- progress and settlement

_PROGRESS_UPDATE = """
UPDATE tasks_mall_campaignclaim c
   SET progress = COALESCE(t.total, 0),
       reached = COALESCE(t.total, 0) >= %(target)s,
       reached_at = CASE WHEN COALESCE(t.total, 0) >= %(target)s THEN COALESCE(c.reached_at, %(now)s) END,
       progress_at = %(now)s
  FROM tasks_mall_campaignclaim c2
  LEFT JOIN unnest(%(guides)s::bigint[], %(totals)s::bigint[]) AS t(guide_id, total) ON t.guide_id = c2.guide_id
 WHERE c.id = c2.id AND c2.campaign_id = %(campaign)s AND c.settled_at IS NULL
"""

# The best of those who reached the target: most progress, then who got there first, then who claimed first.
_RANKS = """
WITH ranked AS (
    SELECT id, row_number() OVER (ORDER BY progress DESC, reached_at, claimed_at, id) AS r
      FROM tasks_mall_campaignclaim WHERE campaign_id = %(campaign)s AND reached)
UPDATE tasks_mall_campaignclaim c SET rank = ranked.r FROM ranked WHERE c.id = ranked.id
"""


def _refresh(campaign: Campaign, now: dt.datetime) -> int:
    from incentives.leaderboards import metric_totals

    totals = metric_totals(campaign.metric, campaign.starts_at, campaign.ends_at)
    claimants = set(CampaignClaim.objects.filter(campaign=campaign).values_list("guide_id", flat=True))
    mine = {guide_id: int(total) for guide_id, total in totals.items() if guide_id in claimants}
    with connection.cursor() as cursor:
        cursor.execute(_PROGRESS_UPDATE, {"target": campaign.target, "now": now, "campaign": campaign.pk,
                                          "guides": list(mine), "totals": list(mine.values())})
        updated = cursor.rowcount
    Campaign.objects.filter(pk=campaign.pk).update(progress_at=now)
    return updated


def campaign_progress_refresh(*, campaign_id: int, now: dt.datetime | None = None) -> int:
    """Measure every claim of a published campaign from the record (orders, relationships, task rewards over
    its window; the leaderboards' own totals) in one UPDATE. Returns the claims updated; safe to run any time."""
    now = now or timezone.now()
    campaign = Campaign.objects.filter(pk=campaign_id, state=CampaignState.PUBLISHED).first()
    if campaign is None or campaign.starts_at > now:
        return 0
    return _refresh(campaign, now)


@dataclass(frozen=True)
class Settlement:
    campaign_id: int
    settled: bool
    reached: int = 0
    credited: int = 0


def campaign_settle(*, campaign_id: int, now: dt.datetime | None = None) -> Settlement:
    """Settle an ended campaign: final progress, ranks, and each reaching claim's reward (plus the top-N bonus)
    credited once through the coins ledger. Safe to run twice: a settled campaign is left alone, and the
    ledger refuses a second entry for the same guide and campaign anyway."""
    from incentives.services import reward_credit

    now = now or timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None or campaign.state != CampaignState.PUBLISHED or now < campaign.ends_at + SETTLE_GRACE:
            return Settlement(campaign_id=campaign_id, settled=False)
        _refresh(campaign, now)
        with connection.cursor() as cursor:
            cursor.execute(_RANKS, {"campaign": campaign.pk})
        due = (CampaignClaim.objects.filter(campaign=campaign, settled_at__isnull=True, reached=True)
               .order_by("pk").values("pk", "guide_id", "rank"))
        rewards, credited = {}, 0
        for claim in due:
            top = bool(campaign.top_n) and claim["rank"] <= campaign.top_n
            coins = campaign.reward_coins + (campaign.top_coins if top else 0)
            exp = campaign.reward_exp + (campaign.top_exp if top else 0)
            rewards[claim["pk"]] = (coins, exp)
            if coins or exp:
                credited += reward_credit(guide_id=claim["guide_id"], coins=coins, exp=exp, source=REWARD_SOURCE,
                                          source_id=str(campaign.pk), note=campaign.title[:200])
        for (coins, exp), ids in _group(rewards).items():
            CampaignClaim.objects.filter(pk__in=ids).update(reward_coins=coins, reward_exp=exp)
        CampaignClaim.objects.filter(campaign=campaign, settled_at__isnull=True).update(settled_at=now)
        campaign.state, campaign.settled_at = CampaignState.SETTLED, now
        campaign.save(update_fields=["state", "settled_at"])
        audit(action="campaign.settled", brand=campaign.brand, campaign_id=campaign.pk, reached=len(rewards),
              credited=credited)
    log.info("campaigns.settled", extra={"campaign_id": campaign.pk, "reached": len(rewards), "credited": credited})
    return Settlement(campaign_id=campaign.pk, settled=True, reached=len(rewards), credited=credited)


def _group(rewards: dict[int, tuple[int, int]]) -> dict[tuple[int, int], list[int]]:
    """Claims by reward amount: one UPDATE per distinct amount (at most two: with or without the bonus)."""
    groups: dict[tuple[int, int], list[int]] = {}
    for claim_id, amounts in rewards.items():
        groups.setdefault(amounts, []).append(claim_id)
    return groups
