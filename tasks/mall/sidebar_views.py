"""Guide sidebar pages for campaign tasks (活动任务): the campaigns open to the guide and the ones they claimed
with their progress (also shown on "today"), and claiming one (a form post, and the same as JSON)."""

from __future__ import annotations

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from guides.sidebar_views import _bridge_context, _json_error, _safe_next, guide_api, guide_view
from scrm.errors import AppError

from . import selectors, services


@require_GET
@guide_view
def campaigns(request, guide):
    """活动任务 · Campaigns: to claim, claimed (with progress), and recently settled (with the reward)."""
    return render(request, "sidebar/campaigns.html", {
        "guide": guide, "nav": "today", **selectors.guide_campaigns(guide=guide, now=timezone.now()),
        **_bridge_context()})


@require_POST
@guide_view
def campaign_claim(request, guide, pk: int):
    try:
        claim = services.campaign_claim(guide=guide, campaign_id=pk)
    except AppError as exc:
        messages.warning(request, exc.message)
    else:
        messages.success(request, f"已领取 ✓ Claimed: {claim.campaign.title}")
    return redirect(_safe_next(request.POST.get("next")))


@require_POST
@guide_api
def campaign_claim_api(request, guide, pk: int):
    """POST → 200 {campaign, claimed_at, progress, reached}; 4xx {code, message, fields} otherwise."""
    try:
        claim = services.campaign_claim(guide=guide, campaign_id=pk)
    except AppError as exc:
        return _json_error(exc.code, exc.message, exc.status, **exc.fields)
    return JsonResponse({"campaign": claim.campaign_id, "claimed_at": claim.claimed_at.isoformat(),
                         "progress": claim.progress, "reached": claim.reached})
