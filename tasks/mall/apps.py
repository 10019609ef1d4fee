from django.apps import AppConfig


class MallTasksConfig(AppConfig):
    """Public schema side of the task engine: the mall's (HQ) lifecycle programs, shared by every brand."""

    name = "tasks.mall"
    label = "tasks_mall"
    verbose_name = "总部任务方案 HQ task programs"

    def ready(self):
        # the HQ program editor's admin (tasks/mall/admin.py holds the campaign admin)
        from . import program_admin  # noqa: F401
