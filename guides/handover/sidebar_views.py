"""Sidebar page for successors: 继承客户 · Inherited customers, with where each came from (the departed or
previous guide, the original day 0 that the lifecycle keeps counting from, when WeCom handed them over).
Mounted in guides/sidebar_urls.py; runs in the guide's brand schema (guide_view) and shows only the
signed-in guide's own inheritances."""

from __future__ import annotations

from urllib.parse import urlencode

from django.shortcuts import render

from guides.sidebar_views import guide_view, lifecycle_day
from scrm.pagination import page_without_count

from .selectors import inherited_customers

PAGE_SIZE = 20


@guide_view
def inherited(request, guide):
    page = page_without_count(inherited_customers(guide=guide), page=request.GET.get("page"), size=PAGE_SIZE)
    for item in page.items:
        item.lifecycle_day = lifecycle_day(item.original_added_at) if item.original_added_at else None

    def link(number: int) -> str:
        return request.path + ("?" + urlencode({"page": number}) if number > 1 else "")

    return render(request, "sidebar/inherited.html", {
        "guide": guide, "nav": "customers", "page": page,
        "previous_url": link(page.previous_number) if page.has_previous else "",
        "next_url": link(page.next_number) if page.has_next else "",
    })
