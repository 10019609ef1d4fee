"""Reads for campaign tasks (活动任务): who is in a campaign's audience, which campaigns a guide sees, which a
brand sees, and the per-guide progress rows. Campaigns are public rows; every read here is scoped by the
guide or the brand asking, so a brand never reaches another brand's campaign."""

from __future__ import annotations

import datetime as dt

from django.db.models import Exists, OuterRef, Q, QuerySet

from guides.models import Guide, GuideStatus
from scrm.errors import NotFound
from tenants.models import Brand, BrandStatus, Counter

from .models import Campaign, CampaignAudience, CampaignClaim, CampaignState

# Claimed campaigns stay on the guide's list this long after they are settled (the result, then gone).
FINISHED_SHOWN_DAYS = 14


def _through(name: str):
    return getattr(Campaign, name).through.objects


def audience_guides(campaign: Campaign) -> QuerySet:
    """The active guides (of active brands) the campaign reaches; a brand campaign only its own brand's."""
    guides = Guide.objects.filter(status=GuideStatus.ACTIVE, brand__status=BrandStatus.ACTIVE)
    if campaign.brand_id:
        guides = guides.filter(brand_id=campaign.brand_id)
    if campaign.audience == CampaignAudience.BRANDS:
        guides = guides.filter(brand_id__in=_through("brands").filter(campaign_id=campaign.pk).values("brand_id"))
    elif campaign.audience == CampaignAudience.STORES:
        guides = guides.filter(counter__store_id__in=_through("stores").filter(campaign_id=campaign.pk)
                               .values("store_id"))
    elif campaign.audience == CampaignAudience.COUNTERS:
        guides = guides.filter(counter_id__in=_through("counters").filter(campaign_id=campaign.pk)
                               .values("counter_id"))
    return guides


def guide_in_audience(campaign: Campaign, guide: Guide) -> bool:
    return audience_guides(campaign).filter(pk=guide.pk).exists()


def _reaches_guide(guide: Guide) -> Q:
    """Campaigns whose audience includes ``guide`` (the owner rule included)."""
    store_id = guide.counter.store_id if guide.counter_id else None
    reaches = (Q(audience=CampaignAudience.ALL)
               | Q(audience=CampaignAudience.BRANDS,
                   pk__in=_through("brands").filter(brand_id=guide.brand_id).values("campaign_id")))
    if guide.counter_id:
        reaches |= (Q(audience=CampaignAudience.STORES,
                      pk__in=_through("stores").filter(store_id=store_id).values("campaign_id"))
                    | Q(audience=CampaignAudience.COUNTERS,
                        pk__in=_through("counters").filter(counter_id=guide.counter_id).values("campaign_id")))
    return (Q(brand__isnull=True) | Q(brand_id=guide.brand_id)) & reaches


def _with_labels(campaign: Campaign, claim: CampaignClaim | None) -> Campaign:
    campaign.claim = claim
    if claim is not None:
        claim.progress_label = campaign.amount_label(claim.progress)
        claim.percent = min(100, int(claim.progress * 100 // campaign.target)) if claim.progress > 0 else 0
    return campaign


def guide_campaigns(*, guide: Guide, now: dt.datetime, claimable_limit: int | None = None) -> dict:
    """The guide's campaigns: those open to claim (published, not ended, in their audience), the ones they
    claimed that are running or waiting for settlement, and the recently settled ones with their result."""
    claims = {c.campaign_id: c for c in CampaignClaim.objects.filter(guide_id=guide.pk).filter(
        Q(campaign__state=CampaignState.PUBLISHED)
        | Q(campaign__settled_at__gte=now - dt.timedelta(days=FINISHED_SHOWN_DAYS)))}
    claimed = list(Campaign.objects.filter(pk__in=list(claims)).select_related("brand").order_by("ends_at", "pk"))
    open_ = (Campaign.objects.filter(state=CampaignState.PUBLISHED, ends_at__gt=now).filter(_reaches_guide(guide))
             .exclude(pk__in=list(claims)).select_related("brand").order_by("ends_at", "pk"))
    if claimable_limit is not None:
        open_ = open_[:claimable_limit]
    running = [_with_labels(c, claims[c.pk]) for c in claimed if c.state == CampaignState.PUBLISHED]
    for campaign in running:
        campaign.started = campaign.starts_at <= now
        campaign.ended = campaign.ends_at <= now
    return {
        "claimable": [_with_labels(c, None) for c in open_],
        "running": running,
        "finished": [_with_labels(c, claims[c.pk]) for c in claimed if c.state == CampaignState.SETTLED],
    }


# --------------------------------------------------------------------------- brand dashboard

def _reaches_brand(brand: Brand) -> Q:
    """Mall campaigns that reach at least one of ``brand``'s counters or guides (by their audience)."""
    counters = Counter.objects.filter(brand_id=brand.pk)
    by_store = _through("stores").filter(campaign_id=OuterRef("pk"),
                                         store_id__in=counters.values("store_id"))
    by_counter = _through("counters").filter(campaign_id=OuterRef("pk"), counter_id__in=counters.values("pk"))
    by_brand = _through("brands").filter(campaign_id=OuterRef("pk"), brand_id=brand.pk)
    return Q(brand__isnull=True) & (Q(audience=CampaignAudience.ALL)
                                    | Q(Exists(by_brand), audience=CampaignAudience.BRANDS)
                                    | Q(Exists(by_store), audience=CampaignAudience.STORES)
                                    | Q(Exists(by_counter), audience=CampaignAudience.COUNTERS))


def campaigns_for_brand(*, brand: Brand) -> dict:
    """The brand's own campaigns (every state) and the mall's published ones that reach its guides."""
    from django.db.models import Count

    guides_here = Q(claims__guide__brand_id=brand.pk)
    own = (Campaign.objects.filter(brand_id=brand.pk)
           .annotate(claimed=Count("claims", filter=guides_here),
                     reached=Count("claims", filter=guides_here & Q(claims__reached=True)))
           .order_by("-created_at", "-pk"))
    mall = (Campaign.objects.filter(_reaches_brand(brand)).exclude(state=CampaignState.DRAFT)
            .annotate(claimed=Count("claims", filter=guides_here),
                      reached=Count("claims", filter=guides_here & Q(claims__reached=True)))
            .order_by("-starts_at", "-pk"))
    return {"own": own, "mall": mall}


def campaign_for_brand(*, brand: Brand, pk: int, editable: bool = False) -> Campaign:
    """One campaign the brand may see (its own, or a published mall campaign reaching it); with ``editable``
    only its own. Anything else is "not found", whoever owns it."""
    campaigns = Campaign.objects.select_related("brand").filter(pk=pk)
    if editable:
        campaign = campaigns.filter(brand_id=brand.pk).first()
    else:
        campaign = (campaigns.filter(Q(brand_id=brand.pk) | (_reaches_brand(brand) & ~Q(state=CampaignState.DRAFT)))
                    .first())
    if campaign is None:
        raise NotFound("活动不存在 Campaign not found", code="campaign_not_found")
    return campaign


def campaign_claims(*, campaign: Campaign, brand: Brand | None = None, limit: int | None = None) -> list:
    """Per-guide progress, best first (a brand sees its own guides only), each with its label and percent."""
    claims = (CampaignClaim.objects.filter(campaign=campaign).select_related("guide", "guide__counter__store")
              .order_by("-progress", "reached_at", "claimed_at", "pk"))
    if brand is not None:
        claims = claims.filter(guide__brand_id=brand.pk)
    rows = list(claims[:limit] if limit else claims)
    for position, claim in enumerate(rows, start=1):
        claim.position = position
        claim.progress_label = campaign.amount_label(claim.progress)
        claim.percent = min(100, int(claim.progress * 100 // campaign.target)) if claim.progress > 0 else 0
    return rows


def campaign_figures(*, campaign: Campaign, brand: Brand | None = None) -> dict:
    """Audience size, claims, reached, credited: for the dashboard's and the admin's header."""
    from django.db.models import Count, Sum

    guides = audience_guides(campaign)
    claims = CampaignClaim.objects.filter(campaign=campaign)
    if brand is not None:
        guides, claims = guides.filter(brand_id=brand.pk), claims.filter(guide__brand_id=brand.pk)
    sums = claims.aggregate(claimed=Count("pk"), reached=Count("pk", filter=Q(reached=True)),
                            progress=Sum("progress"), coins=Sum("reward_coins"), exp=Sum("reward_exp"))
    return {"audience": guides.count(), "claimed": sums["claimed"], "reached": sums["reached"],
            "progress_label": campaign.amount_label(sums["progress"] or 0), "coins": sums["coins"] or 0,
            "exp": sums["exp"] or 0}
