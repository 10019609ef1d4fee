"""Mall ops admin for the newbie checklist: the steps are edited here (titles, rewards, order, evidence, on/off);
progress is read-only (only the services move it, and rewards follow it into the ledger)."""

from __future__ import annotations

from django.contrib import admin

from tenants.admin import BigTableAdmin, MallAdmin

from .models import NewbieProgress, NewbieStep


@admin.register(NewbieStep)
class NewbieStepAdmin(MallAdmin):
    # Switched off, never deleted: every brand's guides have progress rows pointing at the step.
    deletable = False
    list_display = ["position", "title", "title_en", "key", "evidence", "target", "reward_coins", "reward_exp",
                    "is_active"]
    list_display_links = ["title"]
    list_editable = ["position", "reward_coins", "reward_exp", "is_active"]
    fields = ["key", "title", "title_en", "hint", "evidence", "target", "reward_coins", "reward_exp", "position",
              "is_active"]

    def get_readonly_fields(self, request, obj=None):
        # the key is the reward's idempotency key: fixed once the step exists
        return ["key"] if obj is not None else []


@admin.register(NewbieProgress)
class NewbieProgressAdmin(BigTableAdmin):
    addable = changeable = deletable = False
    list_display = ["guide", "step", "count", "done_at", "completed_by", "reward_coins", "reward_credited_at"]
    list_select_related = ["guide", "step"]
    list_filter = ["step", "completed_by"]
    search_fields = ["=guide__wecom_userid"]
    raw_id_fields = ["guide"]
