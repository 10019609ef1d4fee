from django.apps import AppConfig


class BrandCommunityConfig(AppConfig):
    """Group tasks (群任务), brand schema side: the tasks issued to the owners of the brand's customer groups
    and the brand's switch-offs of optional HQ group nodes."""

    name = "tasks.community.brand"
    label = "communitybrand"
    verbose_name = "群任务 Group tasks"
