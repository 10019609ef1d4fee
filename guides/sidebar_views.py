"""The guide sidebar H5 (聊天工具栏): one URL for every brand's guides, on the mall host.

It opens inside the WeCom chat sidebar (about 375px wide). WeCom OAuth tells us who the guide is
(``/sidebar/`` without a session goes to WeCom's authorize page and comes back to
``oauth/callback/``); in DEMO_MODE a guide picker is the alternative. The signed-in guide's id is
kept in the session; every view re-loads the guide, refuses a resigned guide or a suspended
brand, and switches the connection to the guide's brand schema for the rest of the request.
Inside the brand a guide sees only their own customers.

The page talks to the WeCom client through the JS-SDK (``scrm/static/scrm/sidebar.js``):
``jssdk/config`` signs the page, ``api/contact/`` turns the chat's external_userid into one of
the guide's customers. Facts: ../shared/reference/wecom-api.md §9.
"""

from __future__ import annotations

import logging
import secrets
from functools import wraps
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.db import connection
from django.http import Http404, JsonResponse
from django.http.request import split_domain_port, validate_host
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from members.brand.dashboard_views import coupon_rows
from members.models import MemberExternalId
from members.selectors import brand_coupons, brand_member_get, mall_coupons, tier_names
from scrm.errors import AppError, NotFound
from scrm.pagination import page_without_count
from tasks.community.selectors import guide_group_tasks
from tasks.mall.selectors import guide_campaigns
from tasks.newbie.selectors import guide_checklist
from tasks.selectors import guide_task_counts, guide_tasks_open, tasks_for_display
from tasks.services import task_complete
from wecom import jssdk
from wecom.oauth import OAuthRefused, authorize_url, new_state, oauth_user_get

from .handover.selectors import inherited_from
from .models import Guide
from .selectors import guide_customer_get, guide_customers, guide_with_places, guides_for_picker

logger = logging.getLogger(__name__)

SESSION_KEY = "sidebar_guide_id"
OAUTH_PENDING_KEY = "sidebar_oauth_pending"  # [[state, next path], ...]: a few sign-ins may be under way
OAUTH_PENDING_MAX = 5
PAGE_SIZE = 20
COUPON_ROWS = 30
TASK_ROWS = 10
TODAY_CAMPAIGNS_TO_CLAIM = 3  # the rest are one tap away on the campaigns page
DEMO_CHAT_CUSTOMERS = 30
# The official WeCom JS-SDK, loaded by sidebar.js only inside the WeCom client (never in a browser).
JWEIXIN_SRC = "https://res.wx.qq.com/open/js/jweixin-1.2.0.js"


def _demo_mode() -> bool:
    return bool(getattr(settings, "DEMO_MODE", False))


def _sign_out(request) -> None:
    # Only the sidebar's key: a mall admin signed in to /admin/ on the same host stays signed in.
    request.session.pop(SESSION_KEY, None)


def lifecycle_day(added_at) -> int:
    """Day N of the 28-day lifecycle: whole local (Asia/Shanghai) days since the customer added the guide."""
    return (timezone.localdate() - timezone.localtime(added_at).date()).days


def _guide_refusal(guide: Guide | None) -> tuple[str, str] | None:
    """(code, bilingual message) when this guide may not use the sidebar, else None."""
    if guide is None:
        return "not_a_guide", ("您的企业微信账号不在导购名单中，请联系品牌经理。 · "
                               "Your WeCom account is not in the guide directory; please ask your brand manager.")
    if not guide.is_active:
        return "guide_resigned", "您已离职，侧边栏已关闭 · You have left the brand; the sidebar is closed."
    if not guide.brand.is_active:
        return "brand_suspended", "品牌已停用，侧边栏已关闭 · The brand is suspended; the sidebar is closed."
    return None


def _session_guide(request) -> tuple[Guide | None, tuple[str, str] | None]:
    """The signed-in guide (and None), or (None, refusal) after signing a no-longer-allowed guide out."""
    guide_id = request.session.get(SESSION_KEY)
    if guide_id is None:
        return None, None
    guide = guide_with_places(guide_id) if isinstance(guide_id, int) else None
    refusal = _guide_refusal(guide) if guide is not None else ("signed_out", "请重新登录 · Please sign in again.")
    if refusal:
        logger.info("sidebar.signed_out", extra={"guide_id": guide_id, "reason": refusal[0]})
        _sign_out(request)
        return None, refusal
    return guide, None


def _in_brand(view, request, guide, *args, **kwargs):
    connection.set_tenant(guide.brand)
    try:
        return view(request, guide, *args, **kwargs)
    finally:
        connection.set_schema_to_public()


def guide_view(view):
    """Gate for every signed-in sidebar page; passes the Guide and runs the view in its brand schema."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        guide, refusal = _session_guide(request)
        if refusal:
            messages.warning(request, refusal[1])
            return redirect("sidebar:login")
        if guide is None:
            return _oauth_redirect(request, next_path=request.get_full_path())
        return _in_brand(view, request, guide, *args, **kwargs)

    return wrapper


def _json_error(code: str, message: str, status: int, **fields) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, "fields": fields}, status=status,
                        json_dumps_params={"ensure_ascii": False})


def guide_api(view=None, *, mall_only: bool = False):
    """guide_view for the page's JSON calls: a 401 in the one error shape instead of a redirect.

    ``mall_only``: the view reads only the mall's tables and Redis (e.g. a leaderboard), so it stays in the public
    schema: no brand search_path is set, and none set back, on a call the page makes every few seconds.
    """
    if view is None:
        return lambda v: guide_api(v, mall_only=mall_only)

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        guide, refusal = _session_guide(request)
        if guide is None:
            code, message = refusal or ("signed_out", "请重新登录 · Please sign in again.")
            return _json_error(code, message, 401)
        if mall_only:
            return view(request, guide, *args, **kwargs)
        return _in_brand(view, request, guide, *args, **kwargs)

    return wrapper


# --------------------------------------------------------------------------- sign-in (WeCom OAuth)

def _safe_next(path: str | None) -> str:
    home = reverse("sidebar:home")
    if not path or not path.startswith(home) or path.startswith("//") or "\\" in path:
        return home
    parts = urlsplit(path)
    if parts.scheme or parts.netloc or parts.path.startswith(reverse("sidebar:oauth_callback")):
        return home
    return path


def _oauth_redirect(request, *, next_path: str | None):
    """Send the browser to WeCom's authorize page with a fresh state remembered in the session."""
    state = new_state()
    pending = [p for p in request.session.get(OAUTH_PENDING_KEY, []) if isinstance(p, list) and len(p) == 2]
    request.session[OAUTH_PENDING_KEY] = (pending + [[state, _safe_next(next_path)]])[-OAUTH_PENDING_MAX:]
    callback = request.build_absolute_uri(reverse("sidebar:oauth_callback"))
    return redirect(authorize_url(redirect_uri=callback, state=state))


@require_GET
def oauth_start(request):
    """A link that (re)starts the WeCom sign-in, e.g. from the refusal page."""
    return _oauth_redirect(request, next_path=request.GET.get("next"))


def _refused(request, code: str, message: str):
    logger.info("sidebar.oauth_refused", extra={"reason": code})
    return render(request, "sidebar/refused.html", {"code": code, "message": message, "demo": _demo_mode()},
                  status=403)


@require_GET
def oauth_callback(request):
    """WeCom sends the browser back here with ?code=&state=: check, exchange, map to a guide."""
    state, code = request.GET.get("state", ""), request.GET.get("code", "")
    pending = request.session.get(OAUTH_PENDING_KEY, [])
    match = next((p for p in pending if isinstance(p, list) and len(p) == 2 and state
                  and secrets.compare_digest(str(p[0]), state)), None)
    if match is None:
        return _refused(request, "bad_state", "登录请求已失效，请重新打开侧边栏。 · This sign-in request is invalid "
                                              "or has expired; please reopen the sidebar.")
    # each state works once, whatever happens next
    request.session[OAUTH_PENDING_KEY] = [p for p in pending if p is not match]
    try:
        user = oauth_user_get(code=code)
    except OAuthRefused as exc:
        return _refused(request, exc.code, exc.message)
    if not user.userid:
        return _refused(request, "not_a_member", "侧边栏仅供本企业的导购使用，您的微信身份无法登录。 · The sidebar is "
                                                 "for the corp's guides only; a WeChat identity cannot sign in.")
    guide = Guide.objects.select_related("brand").filter(wecom_userid=user.userid).first()
    refusal = _guide_refusal(guide)
    if refusal:
        return _refused(request, *refusal)
    request.session.cycle_key()
    request.session[SESSION_KEY] = guide.pk
    logger.info("sidebar.signed_in", extra={"tenant": guide.brand.schema_name, "guide_id": guide.pk,
                                            "via": "wecom_oauth"})
    return redirect(match[1])


def login_view(request):
    """Sign-in page: WeCom sign-in, and in DEMO_MODE the guide picker (演示：选择导购)."""
    demo = _demo_mode()
    if request.method == "POST":
        if not demo:
            return render(request, "sidebar/login.html", {"demo": False}, status=403)
        guide = guides_for_picker().filter(pk=_int_or_none(request.POST.get("guide_id"))).first()
        if guide is None:
            messages.error(request, "请选择一位在职导购 · Please pick an active guide.")
            return redirect("sidebar:login")
        request.session.cycle_key()
        request.session[SESSION_KEY] = guide.pk
        logger.info("sidebar.signed_in", extra={"tenant": guide.brand.schema_name, "guide_id": guide.pk,
                                                "via": "demo_picker"})
        return redirect("sidebar:home")
    if request.session.get(SESSION_KEY) is not None:
        return redirect("sidebar:home")
    return render(request, "sidebar/login.html", {"demo": demo, "guides": guides_for_picker() if demo else []})


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@require_POST
def logout_view(request):
    _sign_out(request)
    messages.info(request, "已退出 · Signed out.")
    return redirect("sidebar:login")


# --------------------------------------------------------------------------- pages

@guide_view
def home(request, guide):
    """我的客户 · My customers: the guide's own customers, newest first, no COUNT."""
    q = request.GET.get("q", "").strip()[:64]
    page = page_without_count(guide_customers(guide=guide, q=q), page=request.GET.get("page"), size=PAGE_SIZE)
    tiers = tier_names()
    for relationship in page.items:
        relationship.lifecycle_day = lifecycle_day(relationship.added_at)
        relationship.tier_label = tiers.get(relationship.member.tier) or relationship.member.tier

    def link(number: int) -> str:
        query = {"q": q} if q else {}
        if number > 1:
            query["page"] = number
        return request.path + ("?" + urlencode(query) if query else "")

    return render(request, "sidebar/home.html", {
        "guide": guide,
        "nav": "customers",
        "q": q,
        "page": page,
        "previous_url": link(page.previous_number) if page.has_previous else "",
        "next_url": link(page.next_number) if page.has_next else "",
        **_bridge_context(),
    })


def greeting_text(*, guide: Guide, member, tier_label: str) -> str:
    """A first message for the chat: the customer's name, tier and points (Chinese: it goes to the customer)."""
    name = member.name or "您"
    tier = (tier_label or "").split(" ")[0]
    brand = guide.brand.name.split(" ")[0]
    return (f"{name}您好！我是{brand}的导购{guide.name}。您现在是{tier}会员，积分{member.points_balance}分。"
            f"有任何需要随时告诉我～")


@guide_view
def customer_detail(request, guide, code: str):
    try:
        relationship = guide_customer_get(guide=guide, code=code)
    except NotFound:
        return render(request, "errors/404.html", {
            "message": "客户不存在 · Customer not found.", "layout": "sidebar/layout.html", "guide": guide,
            **_bridge_context(),
        }, status=404)
    member = relationship.member
    try:
        brand_member = brand_member_get(code=member.code)
    except NotFound:
        brand_member = None
    relationship.lifecycle_day = lifecycle_day(relationship.added_at)
    tier_label = tier_names().get(member.tier) or member.tier
    external_userids = list(MemberExternalId.objects.filter(member=member, corp_id=settings.WECOM_CORP_ID)
                            .values_list("external_userid", flat=True))
    return render(request, "sidebar/customer.html", {
        "guide": guide,
        "relationship": relationship,
        "member": member,
        "tier_label": tier_label,
        "brand_member": brand_member,
        "brand_coupons": coupon_rows(brand_coupons(member=member)[:COUPON_ROWS]),
        "mall_coupons": coupon_rows(mall_coupons(member=member)[:COUPON_ROWS]),
        "greeting": greeting_text(guide=guide, member=member, tier_label=tier_label),
        "external_userids": external_userids,
        "inherited_from": inherited_from(guide=guide, member_id=member.pk),
        "tasks": tasks_for_display(list(guide_tasks_open(guide=guide, today=timezone.localdate(),
                                                         member_id=member.pk)[:TASK_ROWS]),
                                   today=timezone.localdate()),
        **_bridge_context(),
    })


@guide_view
def today(request, guide):
    """今日任务 · Today: the guide's claimed campaigns with their progress and a few to claim, then the guide's
    open tasks, most urgent first, each with its script ready to send."""
    day = timezone.localdate()
    page = page_without_count(guide_tasks_open(guide=guide, today=day), page=request.GET.get("page"),
                              size=PAGE_SIZE)
    tasks_for_display(page.items, today=day)
    return render(request, "sidebar/today.html", {
        "guide": guide,
        "nav": "today",
        "page": page,
        "tasks": page.items,
        "counts": guide_task_counts(guide=guide, today=day),
        "campaigns": guide_campaigns(guide=guide, now=timezone.now(), claimable_limit=TODAY_CAMPAIGNS_TO_CLAIM),
        "today": day,
        "newbie": guide_checklist(guide=guide),
        # the guide's own groups' tasks (群任务), on the first page only
        "group_tasks": None if page.has_previous else guide_group_tasks(guide=guide, today=day),
        "previous_url": f"{request.path}?page={page.previous_number}" if page.has_previous else "",
        "next_url": f"{request.path}?page={page.next_number}" if page.has_next else "",
        **_bridge_context(),
    })


@require_POST
@guide_view
def task_done(request, guide, pk: int):
    """The guide confirms a task done, with an optional note (only their own task)."""
    try:
        task = task_complete(guide=guide, task_id=pk, note=request.POST.get("note", ""),
                             actor=f"guide:{guide.pk}")
    except AppError as exc:
        messages.warning(request, exc.message)
    else:
        messages.success(request, f"已完成 ✓ Done: {task.title}")
    return redirect(_safe_next(request.POST.get("next")))


@guide_view
def my_qr(request, guide):
    """我的二维码 · My QR codes: the guide's active channel live codes to show a customer at the counter."""
    from wecom.brand.models import LiveCode
    from wecom.livecodes import livecode_totals

    codes = list(LiveCode.objects.filter(guide=guide, is_active=True).order_by("kind", "created_at"))
    totals = livecode_totals(codes)
    for code in codes:
        code.totals = totals.get(code.pk, {"adds": 0, "active": 0, "deletes": 0, "net": 0})
    return render(request, "sidebar/qr.html", {"guide": guide, "codes": codes, "nav": "qr", **_bridge_context()})


@guide_view
def my_qr_image(request, guide, pk: int):
    """The QR image of one of the guide's own live codes (another guide's code is 404)."""
    from wecom.brand.dashboard_views import qr_response
    from wecom.brand.models import LiveCode

    code = LiveCode.objects.filter(pk=pk, guide=guide, is_active=True).first()
    if code is None:
        raise Http404("no such live code")
    return qr_response(code.qr_code)


def _bridge_context() -> dict:
    return {"demo": _demo_mode(), "jweixin_src": getattr(settings, "WECOM_JSSDK_URL", "") or JWEIXIN_SRC}


# --------------------------------------------------------------------------- the page's JSON calls

def _signable(url: str) -> bool:
    """A full http(s) URL of a sidebar page on a host we serve (the host as the browser sees it: a proxy
    in front may rewrite Host, so it is checked against ALLOWED_HOSTS rather than this request's host)."""
    if not url or len(url) > 2048:
        return False
    parts = urlsplit(url)
    host, _port = split_domain_port(parts.netloc)
    return (parts.scheme in ("http", "https") and bool(host) and validate_host(host, settings.ALLOWED_HOSTS)
            and parts.path.startswith(reverse("sidebar:home")))


@require_GET
@guide_api
def jssdk_config(request, guide):
    """Signatures for wx.config (corp ticket) and wx.agentConfig (app ticket) of the page at ?url=."""
    url = request.GET.get("url", "")
    if not _signable(url):
        return _json_error("invalid_url", "url 必须是侧边栏页面的完整地址 · url must be a sidebar page's full address.",
                           400, url=["Expected http(s)://" + request.get_host() + "/sidebar/..."])
    try:
        config = jssdk.page_config(url=url)
    except jssdk.TicketUnavailable as exc:
        logger.warning("sidebar.jssdk_unavailable", extra={"errcode": exc.errcode})
        return _json_error("wecom_unavailable", "暂时无法连接企业微信 · WeCom could not be reached.", 503)
    return JsonResponse(config)


def guide_customer_by_external_userid(*, guide: Guide, external_userid: str):
    """The guide's own relationship with the WeCom contact ``external_userid``; NotFound for anyone else."""
    member_ids = MemberExternalId.objects.filter(corp_id=settings.WECOM_CORP_ID, external_userid=external_userid
                                                 ).values("member_id")
    relationship = guide_customers(guide=guide).filter(member_id__in=member_ids).first() if external_userid else None
    if relationship is None:
        raise NotFound("Not one of your customers. 不是您的客户。", code="customer_not_found")
    return relationship


@require_GET
@guide_api
def contact_resolve(request, guide):
    """getCurExternalContact's userId -> the guide's customer (404 when not theirs)."""
    external_userid = request.GET.get("external_userid", "").strip()[:64]
    try:
        relationship = guide_customer_by_external_userid(guide=guide, external_userid=external_userid)
    except NotFound:
        return _json_error("customer_not_found", "当前聊天的客户不是您的会员客户 · The customer in this chat is "
                                                 "not one of your customers.", 404)
    member = relationship.member
    return JsonResponse({"external_userid": external_userid, "code": member.code, "name": member.name,
                         "url": reverse("sidebar:customer_detail", args=[member.code])},
                        json_dumps_params={"ensure_ascii": False})


@require_GET
@guide_api
def demo_chats(request, guide):
    """DEMO_MODE: the guide's customers with a WeCom id and the live customer groups the guide owns (群主), for the
    demo bridge's "current chat" picker."""
    from .brand.models import CustomerGroup, CustomerGroupStatus

    if not _demo_mode():
        raise Http404
    rows = list(guide_customers(guide=guide).values_list("member_id", "member__name", "member__code")
                [:DEMO_CHAT_CUSTOMERS])
    ids = dict(MemberExternalId.objects.filter(corp_id=settings.WECOM_CORP_ID, member_id__in=[r[0] for r in rows])
               .values_list("member_id", "external_userid"))
    customers = [{"external_userid": ids[member_id], "name": name or code, "code": code}
                 for member_id, name, code in rows if member_id in ids]
    groups = [{"chat_id": chat_id, "name": name or "未命名群 Unnamed group", "customers": count}
              for chat_id, name, count in CustomerGroup.objects.filter(owner_id=guide.pk,
                                                                       status=CustomerGroupStatus.NORMAL)
              .order_by("name", "id").values_list("chat_id", "name", "customer_count")[:DEMO_CHAT_CUSTOMERS]]
    return JsonResponse({"customers": customers, "groups": groups}, json_dumps_params={"ensure_ascii": False})
