from django.apps import AppConfig


class TasksConfig(AppConfig):
    """Brand schema: guide tasks, the brand's lifecycle nodes and trigger settings (the task engine)."""

    name = "tasks"
    verbose_name = "导购任务 Guide tasks"
