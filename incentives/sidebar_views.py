"""Guide sidebar pages for incentives: my coins / experience / rank with the leaderboards, and my
exclusive links with their live feedback (opened, liked, added to cart, bought, sales, commission).

Everything is the signed-in guide's own: links are filtered by guide, boards show names and scores
only. The feed page polls ``api/feed/`` every second; the per-guide version in Redis lets an
unchanged feed answer without touching the database.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.db.models import Sum
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from guides.sidebar_views import _json_error, guide_api, guide_view
from scrm.errors import AppError

from . import attribution, feed, leaderboards, selectors
from .models import ShareKind, ShareLink

FEED_LINKS = 30


def _yuan(cents: int) -> str:
    return f"{cents / 100:,.2f}"


def _link_row(request, link: ShareLink) -> dict:
    return {"id": link.pk, "code": link.code, "title": link.title, "kind": link.get_kind_display(),
            "url": request.build_absolute_uri(reverse("share-open", args=[link.code])),
            "opened": link.opened, "liked": link.liked, "carted": link.carted, "bought": link.bought,
            "sales": _yuan(link.sales_cents), "commission": _yuan(link.commission_cents)}


def _my_links(request, guide) -> list[dict]:
    links = ShareLink.objects.filter(guide=guide).order_by("-updated_at", "-id")[:FEED_LINKS]
    return [_link_row(request, link) for link in links]


@guide_view
@require_GET
def my_links(request, guide):
    version = feed.version(guide.pk)  # read first: a change after this is picked up by the next poll
    return render(request, "sidebar/incentives_links.html", {
        "guide": guide, "nav": "links", "links": _my_links(request, guide), "kinds": ShareKind.choices,
        "version": version, "totals": _totals(guide), "demo": getattr(settings, "DEMO_MODE", False)})


def _totals(guide) -> dict:
    sums = ShareLink.objects.filter(guide=guide).aggregate(bought=Sum("bought"), sales=Sum("sales_cents"),
                                                           commission=Sum("commission_cents"))
    return {"bought": sums["bought"] or 0, "sales": _yuan(sums["sales"] or 0),
            "commission": _yuan(sums["commission"] or 0)}


@guide_view
@require_POST
def link_create(request, guide):
    try:
        link = attribution.share_link_create(guide=guide, kind=request.POST.get("kind", ""),
                                             target_id=request.POST.get("target_id", ""),
                                             title=request.POST.get("title", ""),
                                             target_url=request.POST.get("target_url", ""))
    except AppError as error:
        details = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in error.fields.items())
        messages.warning(request, f"{error.message} {details}")
        return redirect("sidebar:links")
    messages.success(request, f"链接已生成 Link ready: {link.title}")
    return redirect("sidebar:links")


@guide_api
@require_GET
def feed_api(request, guide):
    """The live numbers of the guide's links; ``?v=`` the version the page has (unchanged -> tiny answer)."""
    current = feed.version(guide.pk)
    if current >= 0 and request.GET.get("v") == str(current):
        return _json({"version": current, "unchanged": True})
    return _json({"version": current, "unchanged": False, "links": _my_links(request, guide),
                  "totals": _totals(guide), "recent": feed.recent(guide.pk, 5)})


def _json(body: dict):
    from django.http import JsonResponse

    return JsonResponse(body, json_dumps_params={"ensure_ascii": False})


def _board_args(request) -> dict:
    return {"metric": request.GET.get("metric", "sales"), "period": request.GET.get("period", "today"),
            "scope": request.GET.get("scope", "brand")}


@guide_view
@require_GET
def me(request, guide):
    args = _board_args(request)
    try:
        board = leaderboards.board_for_guide(guide=guide, **args)
    except AppError as error:
        messages.warning(request, error.message)
        return redirect("sidebar:me")
    return render(request, "sidebar/incentives_me.html", {
        "guide": guide, "nav": "me", "standing": selectors.guide_standing(guide_id=guide.pk),
        "entries": selectors.guide_entries(guide_id=guide.pk, limit=10), "board": board, "args": args,
        "top": _display(board.top, args["metric"]), "near": _display(board.neighbours, args["metric"]),
        "metrics": leaderboards.METRICS.items(), "periods": leaderboards.PERIODS.items(),
        "scopes": leaderboards.SCOPES.items(), "stars": selectors.star_guides()})


def _display(rows, metric: str) -> list[dict]:
    shown = (lambda score: f"¥{_yuan(int(score))}") if metric == "sales" else (lambda score: f"{int(score):,}")
    return [{"rank": r.rank, "name": r.name, "value": shown(r.score), "me": r.is_me} for r in rows]


@guide_api(mall_only=True)
@require_GET
def leaderboard_api(request, guide):
    try:
        board = leaderboards.board_for_guide(guide=guide, **_board_args(request))
    except AppError as error:
        return _json_error(error.code, error.message, 400, **error.fields)

    def row(r):
        return {"rank": r.rank, "name": r.name, "score": r.score, "me": r.is_me}

    return _json({"metric": board.metric, "period": board.period, "scope": board.scope, "size": board.size,
                  "top": [row(r) for r in board.top], "me": row(board.me) if board.me else None,
                  "neighbours": [row(r) for r in board.neighbours]})


@guide_view
@require_GET
def rewards(request, guide):
    from .models import Redemption
    from .shop import rewards_for_guide

    return render(request, "sidebar/incentives_rewards.html", {
        "guide": guide, "nav": "me", "standing": selectors.guide_standing(guide_id=guide.pk),
        "rewards": rewards_for_guide(guide).select_related("brand"),
        "redemptions": Redemption.objects.filter(guide=guide).select_related("reward")[:20]})


@guide_view
@require_POST
def reward_redeem(request, guide, pk: int):
    from .shop import reward_redeem as redeem

    try:
        redemption = redeem(guide=guide, reward_id=pk)
    except AppError as error:
        messages.warning(request, error.message)
    else:
        messages.success(request, f"已申请兑换 Requested: {redemption.reward.name}（待审批 awaiting approval）")
    return redirect("sidebar:rewards")


@guide_view
@require_POST
def demo_customer_buys(request, guide, pk: int):
    """DEMO_MODE only: play a customer who opens the guide's link, likes it, adds to cart and pays, so a
    person sees the feed, the coins and the leaderboard move. Uses the same services as real events."""
    import datetime as dt
    import random
    import secrets

    from django.http import Http404
    from django.utils import timezone

    from guides.brand.models import Relationship, RelationshipStatus
    from members.models import Member

    if not getattr(settings, "DEMO_MODE", False):
        raise Http404
    link = ShareLink.objects.filter(pk=pk, guide=guide).first()  # only the guide's own links
    if link is None:
        raise Http404
    visitor = f"demo-{secrets.token_hex(4)}"
    member_id = (Relationship.objects.filter(guide=guide, status=RelationshipStatus.ACTIVE)
                 .order_by("?").values_list("member_id", flat=True).first())
    member_code = Member.objects.filter(pk=member_id).values_list("code", flat=True).first() or ""
    now = timezone.now()
    attribution.share_action_record(link=link, kind="open", visitor=f"v:{visitor}", at=now)
    attribution.share_events_ingest(events=[
        attribution.ShareEventIn(event_id=f"{visitor}-like", kind="like", share_code=link.code, visitor=visitor),
        attribution.ShareEventIn(event_id=f"{visitor}-cart", kind="add_to_cart", share_code=link.code,
                                 visitor=visitor)], brand_id=guide.brand_id, source="demo")
    amount = random.choice([19900, 39900, 59900, 99900, 129900])
    attribution.order_paid(brand=guide.brand, order_id=f"DEMO-{visitor}", amount_cents=amount, paid_at=now,
                           channel="mini_program", member_code=member_code,
                           share_token=attribution.share_token_make(link, at=now - dt.timedelta(seconds=5)),
                           actor="demo")
    messages.success(request, f"演示：一位顾客通过「{link.title}」下单 ¥{amount / 100:,.2f} · Demo: a customer bought "
                              f"through this link.")
    return redirect("sidebar:links")
