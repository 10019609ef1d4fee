"""HQ lifecycle programs (总部方案) for mall ops: start a draft version, preview it across every brand, publish it.

A version is edited only as a draft. Publishing retires the version in force and puts the draft in its place in
one transaction; the engine reads the published version on its next run. Nothing already issued is rewritten:
a task copied its node's title, script, coupon and reward when it was issued, and its once-only key uses the
node's stable ``key``, so a republished node is never issued twice to a customer, a new key starts with node
days after the engine's last run (it is not issued backwards) and a removed key simply stops.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django_tenants.utils import schema_context

from scrm.errors import AppError, Conflict, NotFound
from tasks.selectors import PREVIEW_DAYS, Preview, PreviewDay, lifecycle_nodes, program_preview
from tenants.models import Brand, BrandStatus
from tenants.services import audit

from .models import Program, ProgramNode, ProgramVersion, VersionStatus

log = logging.getLogger(__name__)

_NODE_FIELDS = ["key", "day_offset", "task_type", "title", "script", "coupon_template_id", "due_window_days",
                "reward_coins", "reward_exp", "optional"]


def _program(program_id: int | None) -> Program:
    programs = Program.objects.all()
    program = programs.filter(pk=program_id).first() if program_id else programs.filter(is_default=True).first()
    if program is None:
        raise NotFound("方案不存在 Program not found", code="program_not_found")
    return program


def program_draft_create(*, actor: str, program_id: int | None = None) -> ProgramVersion:
    """The program's draft version (default program if none named), created as a copy of the newest version
    (the published one, or the last retired one) when there is none. Safe to call twice: one draft at a time."""
    program = _program(program_id)
    with transaction.atomic():
        Program.objects.select_for_update().filter(pk=program.pk).first()  # one draft even if two people click
        draft = program.versions.filter(status=VersionStatus.DRAFT).order_by("-number").first()
        if draft is not None:
            return draft
        source = (program.versions.filter(status=VersionStatus.PUBLISHED).first()
                  or program.versions.order_by("-number").first())
        number = (program.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        draft = ProgramVersion.objects.create(program=program, number=number, status=VersionStatus.DRAFT,
                                              note=f"草稿，复制自 v{source.number} Draft from v{source.number}"
                                              if source else "草稿 Draft")
        if source is not None:
            ProgramNode.objects.bulk_create([
                ProgramNode(version=draft, **{name: getattr(node, name) for name in _NODE_FIELDS})
                for node in source.nodes.order_by("day_offset", "key")])
        audit(action="program.draft_created", actor=actor, program=program.code, version=number)
    return draft


def _draft(version_id: int, *, lock: bool = False) -> ProgramVersion:
    versions = ProgramVersion.objects.select_for_update() if lock else ProgramVersion.objects
    version = versions.filter(pk=version_id).first()
    if version is None:
        raise NotFound("方案版本不存在 Program version not found", code="version_not_found")
    if version.status != VersionStatus.DRAFT:
        raise Conflict(f"只能修改草稿，此版本{version.get_status_display()} Only a draft can be changed",
                       code="version_not_draft")
    return version


def draft_nodes_delete(*, version_id: int, node_ids: list[int]) -> int:
    """Remove nodes from a draft. A draft's nodes were never issued, so they go with a plain DELETE (Django's
    cascade check would look for the brand-schema tasks that may point at published nodes, from the mall's
    schema, where that table does not exist)."""
    with transaction.atomic():
        _draft(version_id, lock=True)
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM tasks_mall_programnode WHERE version_id = %s AND id = ANY(%s)",
                           [version_id, list(node_ids)])
            return cursor.rowcount


def draft_discard(*, version_id: int, actor: str) -> None:
    """Throw a draft away (its nodes with it)."""
    with transaction.atomic():
        version = _draft(version_id, lock=True)
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM tasks_mall_programnode WHERE version_id = %s", [version_id])
            cursor.execute("DELETE FROM tasks_mall_programversion WHERE id = %s", [version_id])
        audit(action="program.draft_discarded", actor=actor, program_id=version.program_id, version=version.number)


def program_publish(*, version_id: int, actor: str) -> ProgramVersion:
    """Publish a draft: the version in force is retired, the draft takes its place from the engine's next run.
    Tasks already issued keep what they copied; a node key already issued to a customer is not issued again."""
    program_id = ProgramVersion.objects.filter(pk=version_id).values_list("program_id", flat=True).first()
    with transaction.atomic():
        # lock the program's versions in one fixed order (two publishes of one program queue up), then check
        list(ProgramVersion.objects.select_for_update().filter(program_id=program_id).order_by("pk"))
        version = _draft(version_id)
        nodes = sorted(version.nodes.values_list("day_offset", "key"))
        if not nodes:
            raise AppError("草稿没有节点，不能发布 The draft has no nodes", code="version_empty",
                           fields={"nodes": ["至少一个节点 At least one node"]})
        in_force = ProgramVersion.objects.filter(program_id=program_id, status=VersionStatus.PUBLISHED)
        retired = list(in_force.values_list("number", flat=True))
        in_force.update(status=VersionStatus.RETIRED)
        version.status, version.published_at = VersionStatus.PUBLISHED, timezone.now()
        version.save(update_fields=["status", "published_at"])
        audit(action="program.published", actor=actor, program=version.program.code, version=version.number,
              retired=retired, nodes=[key for _, key in nodes])
    log.info("tasks.program_published", extra={"program": version.program.code, "version": version.number})
    return version


# --------------------------------------------------------------------------- what-if across brands

@dataclass
class BrandPreview:
    brand: Brand
    preview: Preview


@dataclass
class MallPreview:
    """Every active brand's preview of one HQ version, and their sums per day. Counts only: no guide or customer
    leaves a brand's schema (the mall sees brand data as aggregates)."""

    version: ProgramVersion
    first: dt.date
    last: dt.date
    brands: list[BrandPreview] = field(default_factory=list)
    days: list[PreviewDay] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(d.total for d in self.days)

    @property
    def current_total(self) -> int:
        return sum(d.current or 0 for d in self.days)

    @property
    def relationships(self) -> int:
        return sum(b.preview.relationships for b in self.brands)

    def as_preview(self) -> Preview:
        kinds: dict[str, dict] = {}
        not_counted: list[str] = []
        for b in self.brands:
            for k in b.preview.trigger_kinds:
                kinds.setdefault(k["kind"], {**k, "tasks": 0})["tasks"] += k["tasks"]
            not_counted += [label for label in b.preview.triggers_not_counted if label not in not_counted]
        return Preview(first=self.first, last=self.last, relationships=self.relationships, days=self.days,
                       trigger_kinds=sorted(kinds.values(), key=lambda k: k["kind"]),
                       triggers_not_counted=not_counted)


def program_preview_all_brands(*, version_id: int, days: int = PREVIEW_DAYS,
                               today: dt.date | None = None) -> MallPreview:
    """What-if for an HQ version (usually a draft): per active brand, the tasks the engine would create each night
    of the next ``days`` for that brand's customers now (lifecycle, with its switch-offs and its own nodes, and its
    enabled event triggers), beside the version in force; and the sums per day. Set-based: per brand one statement
    per node set and one per trigger."""
    version = ProgramVersion.objects.select_related("program").filter(pk=version_id).first()
    if version is None:
        raise NotFound("方案版本不存在 Program version not found", code="version_not_found")
    today = today or timezone.localdate()
    first = today + dt.timedelta(days=1)
    mall = MallPreview(version=version, first=first, last=first + dt.timedelta(days=days - 1))
    brands = Brand.objects.filter(status=BrandStatus.ACTIVE).exclude(schema_name="public").order_by("name")
    for brand in brands:
        with schema_context(brand.schema_name):
            preview = program_preview(nodes=lifecycle_nodes(hq_version_id=version.pk), compare=lifecycle_nodes(),
                                      days=days, today=today, guide_names=False)
        mall.brands.append(BrandPreview(brand=brand, preview=preview))
    for i in range(days):
        same_day = [b.preview.days[i] for b in mall.brands]
        mall.days.append(PreviewDay(
            day=first + dt.timedelta(days=i), total=sum(d.total for d in same_day),
            guides=sum(d.guides for d in same_day),  # a guide belongs to one brand: per-brand counts add up
            max_per_guide=max((d.max_per_guide for d in same_day), default=0), busiest=[],
            current=sum(d.current or 0 for d in same_day), lifecycle=sum(d.lifecycle for d in same_day),
            triggers=sum(d.triggers for d in same_day)))
    return mall
