"""Sidebar action on the "群任务 Group tasks" section of "today": the group owner confirms a task done, with an
optional note. Only a task of a group the signed-in guide owns; back to where the guide was."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from guides.sidebar_views import _safe_next, guide_view
from scrm.errors import AppError

from . import services


@require_POST
@guide_view
def group_task_done(request, guide, pk: int):
    try:
        task = services.group_task_complete(guide=guide, task_id=pk, note=request.POST.get("note", ""),
                                            actor=f"guide:{guide.pk}")
    except AppError as exc:
        messages.warning(request, exc.message)
    else:
        messages.success(request, f"群任务已完成 ✓ Group task done: {task.title}")
    return redirect(_safe_next(request.POST.get("next")) + "#group-tasks")
