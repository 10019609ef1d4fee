from django.apps import AppConfig


class NewbieConfig(AppConfig):
    """The newbie checklist (新手任务): the mall's onboarding steps for new guides, each guide's progress
    and the evidence checks. Public schema (like the coins ledger it pays into); evidence is read in each
    brand's schema."""

    name = "tasks.newbie"
    label = "newbie"
    verbose_name = "新手任务 Newbie checklist"

    def ready(self) -> None:
        from . import hooks

        hooks.connect()
