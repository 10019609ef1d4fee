"""manage.py wecom_sync [--resume] [--reconcile]: full sync of the corp, or the reconcile, with a progress bar.

    manage.py wecom_sync                 # a new full sync
    manage.py wecom_sync --resume        # continue the last unfinished full sync from its cursor
    manage.py wecom_sync --reconcile     # compare WeCom's relationships with ours, repair the difference
    manage.py wecom_sync --status        # the latest runs, nothing called
    manage.py wecom_sync --corp <corp_id> # a brand's own WeCom corp (entered in the admin) instead of the mall's
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from scrm.errors import AppError
from wecom.client import RateLimited, WeComError
from wecom.models import SyncKind, SyncRun
from wecom.sync import corp_client, fixed_summary, sync_execute, sync_progress, sync_start, sync_unfinished

BAR_WIDTH = 30
FIXES_SHOWN = 20


class Command(BaseCommand):
    help = "Sync the corp's WeCom customers, tags and groups into the platform (resumable), or reconcile."

    def add_arguments(self, parser):
        parser.add_argument("--resume", action="store_true",
                            help="Continue the latest unfinished run of this kind from its saved cursor.")
        parser.add_argument("--reconcile", action="store_true",
                            help="Reconcile relationships guide by guide instead of a full sync.")
        parser.add_argument("--force", action="store_true",
                            help="With --resume: take over a run whose worker died before its lease ran out.")
        parser.add_argument("--status", action="store_true", help="Show the latest runs and exit.")
        parser.add_argument("--corp", default="", metavar="CORP_ID",
                            help="A brand's own WeCom corp (from the admin); default: the mall's corp.")

    def handle(self, *args, **options):
        kind = SyncKind.RECONCILE if options["reconcile"] else SyncKind.FULL
        if options["status"]:
            for run in SyncRun.objects.order_by("-id")[:10]:
                fraction, text = sync_progress(run)
                self.stdout.write(f"#{run.pk} {run.kind} {run.status} {fraction:.0%} {text}")
            return
        corp_id = options["corp"] or None
        try:
            corp_client(corp_id)  # an unknown corp is refused before a run is created
        except AppError as exc:
            raise CommandError(f"--corp: {exc.message}") from exc
        if options["resume"]:
            run = sync_unfinished(kind=kind, corp_id=corp_id)
            if run is None:
                raise CommandError(f"No unfinished {kind} run to resume. 没有可继续的同步任务。")
            self.stdout.write(f"Resuming {kind} run #{run.pk} at phase {run.phase} (status {run.status}).")
        else:
            if (pending := sync_unfinished(kind=kind, corp_id=corp_id)) is not None:
                self.stdout.write(self.style.WARNING(
                    f"Run #{pending.pk} is unfinished ({pending.status}, {pending.phase}); "
                    f"starting a new one. Use --resume to continue it instead."))
            run = sync_start(kind=kind, corp_id=corp_id)
            self.stdout.write(f"Started {kind} run #{run.pk}.")
        self._tty = getattr(self.stdout, "isatty", lambda: False)()
        try:
            run = sync_execute(run.pk, progress=self._progress, force=options["force"])
        except RateLimited as exc:
            raise CommandError(f"\nWeCom keeps rate-limiting ({exc.errcode}); run #{run.pk} is saved. "
                               f"Continue later with: manage.py wecom_sync --resume"
                               f"{' --reconcile' if options['reconcile'] else ''}") from exc
        except WeComError as exc:
            raise CommandError(f"\nWeCom error {exc.errcode} on {exc.endpoint}: {exc.errmsg}. Run #{run.pk} stopped "
                               f"at its cursor; continue with: manage.py wecom_sync --resume"
                               f"{' --reconcile' if options['reconcile'] else ''}") from exc
        except AppError as exc:
            raise CommandError(exc.message) from exc
        self._progress(run, final=True)
        counts = ", ".join(f"{key} {value}" for key, value in sorted(run.counts.items()))
        self.stdout.write(self.style.SUCCESS(f"Run #{run.pk} done: {counts or 'nothing to do'}."))
        if run.kind == SyncKind.RECONCILE:
            self.stdout.write(f"Reconcile fixed 对账修复: {fixed_summary(run) or 'nothing (all in step)'}.")
            for fix in run.fixes[:FIXES_SHOWN]:
                self.stdout.write(f"  {fix['fix']:<12} guide {fix['guide']}  customer {fix['external_userid']}")
            if len(run.fixes) > FIXES_SHOWN:
                self.stdout.write(f"  ... {len(run.fixes) - FIXES_SHOWN} more in the admin (企微同步 WeCom sync runs "
                                  f"#{run.pk})")
        if run.unknown_userids:
            shown = ", ".join(run.unknown_userids[:10])
            more = f" (+{len(run.unknown_userids) - 10} more)" if len(run.unknown_userids) > 10 else ""
            self.stdout.write(self.style.WARNING(
                f"{len(run.unknown_userids)} WeCom member(s) with customer contact are not in the guide directory "
                f"and were skipped: {shown}{more}"))

    def _progress(self, run, final: bool = False) -> None:
        fraction, text = sync_progress(run)
        filled = int(round(fraction * BAR_WIDTH))
        line = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {fraction:4.0%} {text}"
        if self._tty:
            self.stdout.write("\r" + line[:160].ljust(160), ending="\n" if final else "")
            self.stdout.flush()
        else:
            self.stdout.write(line)
        sys.stdout.flush()
