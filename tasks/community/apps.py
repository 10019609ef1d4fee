from django.apps import AppConfig


class CommunityConfig(AppConfig):
    """Group tasks (群任务), public schema side: the mall's (HQ) group nodes and the interest tags groups are
    tagged with. The tasks themselves live in each brand's schema (``tasks.community.brand``)."""

    name = "tasks.community"
    label = "community"
    verbose_name = "群任务 Group tasks"
