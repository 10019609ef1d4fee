"""Sidebar actions on the newbie checklist card ("today"): confirm a step only the guide can vouch for, and
ask WeCom whether the guide's Moment is out. Both only for the signed-in guide, both back to "today"."""

from __future__ import annotations

from django.contrib import messages
from django.core.cache import cache
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from guides.sidebar_views import guide_view
from scrm.errors import AppError

from . import services

# one WeCom question per guide per this many seconds, however often the button is tapped
MOMENT_CHECK_EVERY_SECONDS = 20


@require_POST
@guide_view
def step_confirm(request, guide, pk: int):
    try:
        newly = services.newbie_step_confirm(guide=guide, step_id=pk, actor=f"guide:{guide.pk}")
    except AppError as exc:
        messages.warning(request, exc.message)
    else:
        if newly:
            messages.success(request, "新手任务完成 ✓ Newbie step done!")
    return redirect("sidebar:today")


@require_POST
@guide_view
def moment_check(request, guide):
    if not cache.add(f"newbie:moment-check:{guide.pk}", 1, MOMENT_CHECK_EVERY_SECONDS):
        messages.info(request, "刚刚核验过，请稍后再试 · Checked a moment ago; try again shortly.")
        return redirect("sidebar:today")
    try:
        found = services.newbie_moment_check(guide=guide)
    except AppError as exc:
        messages.warning(request, exc.message)
    else:
        if found:
            messages.success(request, "已在企业微信找到您的朋友圈 ✓ Your Moment was found in WeCom!")
        else:
            messages.info(request, "还没有找到您发布的朋友圈，发布后再来核验 · No Moment of yours yet: post one "
                                   "in WeCom (客户朋友圈), then check again.")
    return redirect("sidebar:today")
