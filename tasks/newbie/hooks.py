"""Where the platform learns that a newbie may have moved: a share link made, a lifecycle task done.

Receivers rather than calls inside incentives.attribution / tasks.services: those services belong to their
apps and are busy files; a post_save that only enqueues after commit keeps them unaware of the checklist.
The WeCom add path calls ``services.after_customer_added`` explicitly, because there the order matters
(the welcome message first). Anything these miss (set-based task completion by the engine, relationships
from the nightly reconcile, handovers) is caught by the ``newbie.dispatch`` run every 15 minutes.
"""

from __future__ import annotations

from django.db.models.signals import post_save


def _share_link_saved(sender, instance, created, **_kwargs):
    if created:
        from .services import newbie_refresh_later

        newbie_refresh_later(instance.guide)


def _task_saved(sender, instance, update_fields=None, **_kwargs):
    if instance.state != "done" or instance.source != "lifecycle":
        return
    if update_fields is not None and "state" not in update_fields:
        return
    from .services import newbie_refresh_later

    newbie_refresh_later(instance.guide)  # one primary-key read, only when a lifecycle task is done


def connect() -> None:
    from incentives.models import ShareLink
    from tasks.models import GuideTask

    post_save.connect(_share_link_saved, sender=ShareLink, dispatch_uid="newbie.share_link_saved")
    post_save.connect(_task_saved, sender=GuideTask, dispatch_uid="newbie.task_saved")
