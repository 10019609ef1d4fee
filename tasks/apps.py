from django.apps import AppConfig


class TasksConfig(AppConfig):
    """Brand schema: guide tasks (the lifecycle engine arrives with its own issue)."""

    name = "tasks"
    verbose_name = "导购任务 Guide tasks"
