"""Reads for handovers: reports whose counts are derived from the items, so they always add up."""

from __future__ import annotations

import csv
import io

from django.db.models import Count, Q, QuerySet
from django_tenants.utils import schema_context

from scrm.errors import NotFound

from .models import Handover, HandoverItem, ItemState

# Report buckets: a partition of the item states (every state in exactly one bucket).
BUCKETS = {
    "taken_over": (ItemState.TAKEN_OVER,),
    "waiting": (ItemState.PENDING, ItemState.SUBMITTED, ItemState.WAITING),
    "refused": (ItemState.REFUSED,),
    "successor_at_limit": (ItemState.SUCCESSOR_AT_LIMIT,),
    "failed": (ItemState.FAILED,),
    "no_relationship": (ItemState.NO_RELATIONSHIP,),
}
BUCKET_LABELS = {
    "total": "客户总数 Total", "taken_over": "接替完毕 Taken over", "waiting": "等待中 Waiting",
    "refused": "客户拒绝 Refused", "successor_at_limit": "接替人已满 Successor at limit", "failed": "失败 Failed",
    "no_relationship": "无好友关系 No relationship",
}


def handover_counts(*, handover_id: int) -> dict[str, int]:
    """total and one count per bucket (adds up to total), plus needs_successor (part of waiting)."""
    aggregates = {name: Count("id", filter=Q(state__in=states)) for name, states in BUCKETS.items()}
    aggregates["needs_successor"] = Count("id", filter=Q(state=ItemState.PENDING, successor__isnull=True))
    row = HandoverItem.objects.filter(handover_id=handover_id).aggregate(total=Count("id"), **aggregates)
    return row


def handovers_with_counts() -> QuerySet:
    """The brand's handovers, newest first, each annotated with its report counts (one query)."""
    aggregates = {f"n_{name}": Count("items", filter=Q(items__state__in=states)) for name, states in BUCKETS.items()}
    return (Handover.objects.select_related("guide", "guide__counter")
            .annotate(n_total=Count("items"), **aggregates).order_by("-id"))


def handover_get(*, handover_id: int) -> Handover:
    handover = Handover.objects.select_related("guide").filter(pk=handover_id).first()
    if handover is None:
        raise NotFound("Handover not found. 继承记录不存在。", code="handover_not_found")
    return handover


def handover_items(*, handover_id: int, state: str = "") -> QuerySet:
    queryset = (HandoverItem.objects.filter(handover_id=handover_id)
                .select_related("member", "successor").order_by("id"))
    if state in BUCKETS:
        queryset = queryset.filter(state__in=BUCKETS[state])
    elif state:
        queryset = queryset.filter(state=state)
    return queryset


CSV_HEADER = ["member_code", "member_name", "external_userid", "successor_userid", "successor_name", "state",
              "errcode", "wecom_status", "submissions", "lifecycle_day0", "takeover_time", "finished_at"]


def handover_csv(*, handover_id: int) -> str:
    """Per-customer lines of one handover as CSV (UTF-8 with BOM so Excel shows Chinese)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for item in handover_items(handover_id=handover_id).iterator(chunk_size=2000):
        writer.writerow([item.member.code, item.member.name, item.external_userid,
                         item.successor.wecom_userid if item.successor else "",
                         item.successor.name if item.successor else "", item.state, item.errcode or "",
                         item.wecom_status or "", item.attempts,
                         item.original_added_at.isoformat() if item.original_added_at else "",
                         item.takeover_time.isoformat() if item.takeover_time else "",
                         item.finished_at.isoformat() if item.finished_at else ""])
    return out.getvalue()


def inherited_customers(*, guide) -> QuerySet:
    """The successor's inherited customers (sidebar "继承客户"): their relationship (original day 0, channel)
    and where they came from. Runs in the guide's brand schema."""
    return (HandoverItem.objects.filter(successor=guide, state=ItemState.TAKEN_OVER)
            .select_related("member", "handover__guide").order_by("-finished_at", "-id"))


def inherited_from(*, guide, member_id: int):
    """The latest handover that gave ``guide`` this customer (sidebar customer card), or None."""
    return (HandoverItem.objects.filter(successor=guide, member_id=member_id, state=ItemState.TAKEN_OVER)
            .select_related("handover__guide").order_by("-finished_at", "-id").first())


def handovers_all_brands(*, open_only: bool = False) -> list[dict]:
    """Mall ops: every brand's handovers with their counts (each brand read in its own schema)."""
    from tenants.models import Brand

    rows = []
    for brand in Brand.objects.exclude(schema_name="public").order_by("name"):
        with schema_context(brand.schema_name):
            queryset = handovers_with_counts()
            if open_only:
                queryset = queryset.exclude(status="done")
            for handover in queryset:
                rows.append({"brand": brand, "handover": handover, "guide": handover.guide,
                             "counts": {"total": handover.n_total,
                                        **{name: getattr(handover, f"n_{name}") for name in BUCKETS}}})
    return rows
