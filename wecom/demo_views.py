"""DEMO_MODE: a page on the mall host that drives the bundled WeCom simulator as a person would.

Choose a guide (a WeCom member), create a customer, let the customer "scan" the guide's code or
delete the guide, and watch what the platform did: the callback inbox and the welcome messages,
refreshed every few seconds, with links to the member in the brand dashboard.

The page never talks to the simulator from the browser: the server calls the simulator's /sim/
control API (base URL = ``WECOM_API_BASE`` without ``/cgi-bin/``), and only in DEMO_MODE. Without
DEMO_MODE every URL here is a 404.
"""

from __future__ import annotations

import logging
import re
import urllib.error
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from guides.models import Guide
from guides.selectors import guides_for_picker
from members.models import Member, MemberExternalId
from tenants.models import Brand

from .models import CallbackEvent, WelcomeDelivery
from .simulator.client import SimulatorControl, SimulatorError

logger = logging.getLogger(__name__)

SESSION_CUSTOMERS = "wecom_demo_customers"  # the customers this browser created: [{euid, name, userid}]
MAX_CUSTOMERS = 12
FEED_ROWS = 15
STATE_RE = re.compile(r"^[A-Za-z0-9_:.\-]{0,30}$")  # WeCom: State at most 30 characters
DEFAULT_STATE = "demo:counter"


def demo_only(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not getattr(settings, "DEMO_MODE", False):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


def simulator_base_url() -> str:
    """The simulator's own base URL, or "" when WECOM_API_BASE is not a simulator-shaped URL."""
    base = settings.WECOM_API_BASE.rstrip("/")
    return base[: -len("/cgi-bin")] if base.endswith("/cgi-bin") else ""


def _simulator() -> SimulatorControl:
    return SimulatorControl(simulator_base_url(), timeout=10)


class DemoError(Exception):
    pass


def _sim_call(action, *args, **kwargs):
    if not simulator_base_url():
        raise DemoError(f"WECOM_API_BASE={settings.WECOM_API_BASE} 不是模拟器 · is not the WeCom simulator.")
    try:
        return action(*args, **kwargs)
    except SimulatorError as exc:
        raise DemoError(f"模拟器拒绝 · The simulator said no: {exc.message or exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DemoError(f"模拟器未运行 · The WeCom simulator is not reachable at {simulator_base_url()}.") from exc


def _guide(userid: str) -> Guide:
    guide = guides_for_picker().filter(wecom_userid=userid).first()
    if guide is None:
        raise DemoError("请选择一位在职导购 · Please choose an active guide.")
    return guide


def _remember(request, *, euid: str, name: str, userid: str) -> None:
    customers = [c for c in request.session.get(SESSION_CUSTOMERS, []) if c.get("euid") != euid]
    request.session[SESSION_CUSTOMERS] = ([{"euid": euid, "name": name, "userid": userid}] + customers)[:MAX_CUSTOMERS]


@require_GET
@demo_only
def home(request):
    guides = list(guides_for_picker())
    chosen = request.session.get("wecom_demo_guide") or (guides[0].wecom_userid if guides else "")
    names = {g.wecom_userid: g for g in guides}
    customers = [{**c, "guide": names.get(c.get("userid"))} for c in request.session.get(SESSION_CUSTOMERS, [])]
    return render(request, "demo/home.html", {
        "guides": guides, "chosen": chosen, "customers": customers, "default_state": DEFAULT_STATE,
        "simulator_url": simulator_base_url(),
    })


@require_POST
@demo_only
def scan(request):
    """A customer (new, or one created here before) adds the chosen guide by scanning their code."""
    userid = request.POST.get("userid", "")
    state = request.POST.get("state", DEFAULT_STATE).strip()
    name = request.POST.get("name", "").strip()[:20]
    euid = request.POST.get("external_userid", "").strip()
    try:
        if not STATE_RE.match(state):
            raise DemoError("渠道最多30个字母、数字或 _:.- · The channel is at most 30 letters, digits or _:.-")
        guide = _guide(userid)
        sim = _simulator()
        # the guide must exist in WeCom (the simulator) first; silent: no change_contact callback
        _sim_call(sim.member, guide.wecom_userid, name=guide.name, silent=True)
        if not euid:
            if not name:
                raise DemoError("请填写顾客姓名 · Please enter the customer's name.")
            euid = _sim_call(sim.customer, name)
        else:
            known = {c["euid"]: c for c in request.session.get(SESSION_CUSTOMERS, [])}
            if euid not in known:
                raise DemoError("未知的演示顾客 · Unknown demo customer.")
            name = known[euid]["name"]
        result = _sim_call(sim.scan, euid, userid=guide.wecom_userid, state=state)
    except DemoError as exc:
        messages.error(request, str(exc))
        return redirect("sidebar:wecom_demo:home")
    request.session["wecom_demo_guide"] = guide.wecom_userid
    _remember(request, euid=euid, name=name, userid=guide.wecom_userid)
    if result.get("already_friend"):
        messages.info(request, f"{name} 已经是 {guide.name} 的客户，企业微信不会再发事件 · "
                               f"{name} already has {guide.name}; WeCom sends no event.")
    else:
        messages.success(request, f"{name} 扫码添加了 {guide.name}（渠道 {state}）· {name} scanned {guide.name}'s "
                                  f"code (channel {state}). 企业微信正在回调平台 · WeCom is calling the platform back.")
    logger.info("wecom.demo_scan", extra={"guide_id": guide.pk})
    return redirect("sidebar:wecom_demo:home")


@require_POST
@demo_only
def delete_guide(request):
    """The customer deletes the guide in WeChat (del_follow_user)."""
    euid = request.POST.get("external_userid", "")
    known = {c["euid"]: c for c in request.session.get(SESSION_CUSTOMERS, [])}
    try:
        if euid not in known:
            raise DemoError("未知的演示顾客 · Unknown demo customer.")
        guide = _guide(known[euid]["userid"])
        _sim_call(_simulator().customer_deletes_member, euid, guide.wecom_userid)
    except DemoError as exc:
        messages.error(request, str(exc))
        return redirect("sidebar:wecom_demo:home")
    messages.success(request, f"{known[euid]['name']} 删除了导购 {guide.name} · {known[euid]['name']} deleted "
                              f"{guide.name}.")
    return redirect("sidebar:wecom_demo:home")


def _dashboard_links(request) -> dict[int, str]:
    host = request.get_host()
    port = host.rsplit(":", 1)[1] if ":" in host and not host.endswith("]") else ""
    links = {}
    for brand in Brand.objects.prefetch_related("domains"):
        domain = next((d.domain for d in brand.domains.all() if d.is_primary), None)
        if domain:
            links[brand.pk] = f"{request.scheme}://{domain}{':' + port if port else ''}/members/"
    return links


def _when(value) -> str:
    return timezone.localtime(value).strftime("%H:%M:%S") if value else ""


@require_GET
@demo_only
def feed(request):
    """The latest callback events and welcome deliveries, as JSON for the page's refresh."""
    events = list(CallbackEvent.objects.select_related("brand").order_by("-id")[:FEED_ROWS])
    deliveries = list(WelcomeDelivery.objects.select_related("brand", "guide", "member").order_by("-id")[:FEED_ROWS])
    links = _dashboard_links(request)
    members = dict(MemberExternalId.objects.filter(external_userid__in={e.external_userid for e in events} - {""})
                   .values_list("external_userid", "member_id"))
    codes = {pk: (code, name) for pk, code, name in
             Member.objects.filter(pk__in=set(members.values())).values_list("pk", "code", "name")}
    guides = dict(Guide.objects.filter(wecom_userid__in={e.user_id for e in events} - {""})
                  .values_list("wecom_userid", "name"))

    def member_link(brand_id, code):
        return f"{links[brand_id]}{code}/" if brand_id in links and code else ""

    event_rows = []
    for e in events:
        code, name = codes.get(members.get(e.external_userid), ("", ""))
        event_rows.append({
            "id": e.pk, "at": _when(e.received_at), "event": e.event, "change_type": e.change_type,
            "guide": guides.get(e.user_id, e.user_id), "customer": name or e.external_userid, "member_code": code,
            "brand": e.brand.name if e.brand else "", "status": e.status, "status_label": e.get_status_display(),
            "result": e.result, "receive_count": e.receive_count, "member_url": member_link(e.brand_id, code),
        })
    delivery_rows = [{
        "id": d.pk, "at": _when(d.created_at), "brand": d.brand.name, "guide": d.guide.name,
        "customer": d.member.name or d.member.code, "member_code": d.member.code, "status": d.status,
        "status_label": d.get_status_display(), "errcode": d.errcode, "latency_ms": d.latency_ms,
        "coupon_code": d.coupon_code, "text": (d.content or {}).get("text", {}).get("content", ""),
        "member_url": member_link(d.brand_id, d.member.code),
    } for d in deliveries]
    return JsonResponse({"events": event_rows, "deliveries": delivery_rows, "now": _when(timezone.now())},
                        json_dumps_params={"ensure_ascii": False})
