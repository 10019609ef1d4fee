"""DEMO_MODE: the demo console's "fast-forward" button (/sidebar/demo/fast-forward/). A 404 without DEMO_MODE."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from scrm.errors import AppError
from wecom.demo_views import demo_only

from .demo import demo_fast_forward


@require_POST
@demo_only
def fast_forward(request):
    """快进 · Move the chosen brand's lifecycle N days on (one engine night per day), then back to the console."""
    try:
        results = demo_fast_forward(brand_id=int(request.POST.get("brand", "0") or 0),
                                    days=int(request.POST.get("days", "1") or 1))
    except (AppError, ValueError) as exc:
        messages.error(request, getattr(exc, "message", "参数有误 · Bad request"))
        return redirect("sidebar:wecom_demo:home")
    days = len(results)
    messages.success(request, f"已快进{days}天：新任务 {sum(r.created for r in results)}，自动完成 "
                              f"{sum(r.completed for r in results)}，过期 {sum(r.expired for r in results)} · "
                              f"Fast-forwarded {days} day(s); open the guide's sidebar to see today's tasks.")
    return redirect("sidebar:wecom_demo:home")
