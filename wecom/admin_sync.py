"""Mall ops admin: WeCom sync runs (全量同步 / 夜间对账), read-only, with their progress and fixes.

Two actions for ops: continue a stopped run from its cursor, or start a new run of the same kind
and corp; both hand the work to a worker (``wecom.sync_run``) after the commit.

Registered from ``WecomConfig.ready()``; ``wecom/admin.py`` keeps the inbox and call pages.
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db import transaction
from django.utils import timezone
from django.utils.html import format_html

from tenants.admin import ReadOnlyMallAdmin, admin_role

from .models import CorpTag, SyncRun


def _pretty(data) -> str:
    return format_html("<pre style='white-space:pre-wrap;max-width:60em'>{}</pre>",
                       json.dumps(data, ensure_ascii=False, indent=2))


class SyncRunAdmin(ReadOnlyMallAdmin):
    list_display = ("id", "kind", "status", "phase", "progress", "fixed", "started_at", "updated_at", "finished_at")
    list_filter = ("kind", "status")
    readonly_fields = ("progress", "fixed", "counts_pretty", "fixes_pretty", "errors_pretty", "unknown_pretty",
                       "cursor_summary")
    exclude = ("counts", "errors", "unknown_userids", "cursor", "fixes")
    actions = ["resume", "run_again"]

    def _may_write(self, request) -> bool:
        if admin_role(request) in self.write_roles:
            return True
        self.message_user(request, "只读账号 Read-only account", messages.ERROR)
        return False

    @admin.action(description="继续所选同步（从保存的进度）Resume selected runs from their cursor")
    def resume(self, request, queryset):
        from .models import SyncStatus
        from .tasks_sync import sync_run

        if not self._may_write(request):
            return
        now = timezone.now()
        # a run whose worker still holds its lease is left alone: taking it over would run it twice
        ids = [run.pk for run in queryset.exclude(status=SyncStatus.DONE)
               if run.locked_until is None or run.locked_until < now]
        for run_id in ids:
            transaction.on_commit(lambda run_id=run_id: sync_run.delay(run_id))
        skipped = queryset.count() - len(ids)
        self.message_user(request, f"已交给后台继续 {len(ids)} 个，跳过 {skipped} 个（已完成或正在执行）· "
                                   f"{len(ids)} run(s) handed to a worker, {skipped} skipped (done or running)")

    @admin.action(description="按所选的类型与企业重新运行 Start a new run like the selected ones")
    def run_again(self, request, queryset):
        from .sync import sync_start
        from .tasks_sync import sync_run

        if not self._may_write(request):
            return
        started = []
        for kind, corp_id in sorted(set(queryset.values_list("kind", "corp_id"))):
            run = sync_start(kind=kind, corp_id=corp_id)
            started.append(run.pk)
            transaction.on_commit(lambda run_id=run.pk: sync_run.delay(run_id))
        self.message_user(request, "已开始 Started: " + ", ".join(f"#{pk}" for pk in started))

    @admin.display(description="进度 Progress")
    def progress(self, obj):
        from .sync import sync_progress

        fraction, text = sync_progress(obj)
        return f"{fraction:.0%} · {text}"

    @admin.display(description="修复 Fixed")
    def fixed(self, obj):
        from .sync import fixed_summary

        return fixed_summary(obj) or "—"

    @admin.display(description="修复明细 Fixes (first 500)")
    def fixes_pretty(self, obj):
        return _pretty(obj.fixes)

    @admin.display(description="计数 Counts")
    def counts_pretty(self, obj):
        return _pretty(obj.counts)

    @admin.display(description="错误 Errors")
    def errors_pretty(self, obj):
        return _pretty(obj.errors)

    @admin.display(description="未知成员 Unknown userids (not in the guide directory)")
    def unknown_pretty(self, obj):
        return _pretty(obj.unknown_userids)

    @admin.display(description="进度位置 Cursor")
    def cursor_summary(self, obj):
        cursor = {k: v for k, v in (obj.cursor or {}).items() if k != "userids"}
        cursor["guides"] = len((obj.cursor or {}).get("userids") or [])
        return _pretty(cursor)


class CorpTagAdmin(ReadOnlyMallAdmin):
    list_display = ("group_name", "name", "tag_id", "order", "deleted", "synced_at")
    list_filter = ("deleted", "group_name")
    search_fields = ("name", "group_name", "=tag_id")


for model, model_admin in ((SyncRun, SyncRunAdmin), (CorpTag, CorpTagAdmin)):
    if not admin.site.is_registered(model):
        admin.site.register(model, model_admin)
