"""Brand dashboard pages for group tasks (群任务): tag a customer group with a store and interest tags (which HQ
group nodes apply follows them), see its activity and tasks, and switch optional HQ group nodes off. Same gate
as every dashboard page; writing needs a role that may write. The groups list itself is
wecom.brand.dashboard_views.groups, which shows each group's tags and activity from here."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from members.brand.dashboard_views import _not_found, brand_dashboard_view
from scrm.errors import AppError, NotFound

from . import selectors, services


def _actor(request) -> str:
    return f"user:{request.user.pk}"


def _may_write(request) -> bool:
    if request.principal.can_write:
        return True
    messages.warning(request, "只读账号不能修改 · This account is read-only.")
    return False


class GroupTagsForm(forms.Form):
    store = forms.ChoiceField(label="门店 Store", required=False)
    interest_tags = forms.MultipleChoiceField(label="兴趣标签 Interest tags", required=False,
                                              widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, brand, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].choices = [("", "— 未指定 None —")] + [
            (str(s.pk), s.name) for s in services.brand_stores(brand=brand)]
        self.fields["interest_tags"].choices = [(t.code, t.name) for t in selectors.interest_tags()]


@brand_dashboard_view
def group_detail(request, pk: int):
    """One customer group: its tags (editable), activity, and its latest group tasks."""
    from guides.brand.models import CustomerGroup

    brand = request.tenant
    group = CustomerGroup.objects.select_related("owner", "store").filter(pk=pk).first()
    if group is None:
        return _not_found(request, "客户群不存在 · Group not found.")
    initial = {"store": str(group.store_id or ""), "interest_tags": list(group.interest_tags)}
    form = GroupTagsForm(request.POST or None, brand=brand, initial=initial)
    if request.method == "POST" and _may_write(request) and form.is_valid():
        store = form.cleaned_data["store"]
        try:
            services.group_tags_set(brand=brand, group_id=group.pk, store_id=int(store) if store else None,
                                    interest_tags=form.cleaned_data["interest_tags"], actor=_actor(request))
        except NotFound as exc:
            return _not_found(request, exc.message)
        except AppError as exc:
            for field, problems in (exc.fields or {}).items():
                form.add_error(field if field in form.fields else None, "; ".join(map(str, problems)))
        else:
            messages.success(request, f"已保存群标签 · Group tags saved: {group.name or group.chat_id}")
            return redirect("dashboard:group_detail", pk=group.pk)
    names = selectors.tag_names()
    return render(request, "dashboard/group_detail.html", {
        "brand": brand,
        "nav": "groups",
        "group": group,
        "form": form,
        "tag_labels": [names.get(code, code) for code in group.interest_tags],
        "activity": selectors.groups_activity(group_ids=[group.pk], brand=brand).get(group.pk),
        "tasks": selectors.group_tasks_recent(group_id=group.pk),
        "activity_days": selectors.ACTIVITY_DAYS,
        "done_days": selectors.DONE_DAYS,
    }, status=400 if form.errors else 200)


@require_POST
@brand_dashboard_view
def group_node_switch(request, pk: int):
    if _may_write(request):
        off = request.POST.get("off") == "1"
        try:
            services.group_node_switch(brand=request.tenant, node_id=pk, off=off, actor=_actor(request))
        except AppError as exc:
            messages.warning(request, exc.message)
        else:
            messages.success(request, "已关闭群任务 · Group task switched off" if off
                             else "已开启群任务 · Group task switched on")
    return redirect("dashboard:groups")
