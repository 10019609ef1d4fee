from django.apps import AppConfig


class WecomConfig(AppConfig):
    name = "wecom"
    verbose_name = "企业微信 WeCom"

    def ready(self):
        # Callback handlers for customer groups, corp tags, members and the guide's customer notes
        # (wecom/contacts.py), next to the inbox's own handlers.
        from . import admin_sync, tasks_sync  # noqa: F401  (SyncRun admin page; Celery tasks outside tasks.py)
        from .contacts import handle_contact_member, handle_edit_contact
        from .groups import handle_external_chat
        from .services import HANDLERS
        from .sync import handle_external_tag

        HANDLERS[("change_external_chat", "*")] = handle_external_chat
        HANDLERS[("change_external_tag", "*")] = handle_external_tag
        HANDLERS[("change_external_contact", "edit_external_contact")] = handle_edit_contact
        for change_type in ("create_user", "update_user", "delete_user"):
            HANDLERS[("change_contact", change_type)] = handle_contact_member
