from django.apps import AppConfig


class HandoverConfig(AppConfig):
    """Brand schema: resigned-guide inheritance (离职继承) and on-job transfers of customers."""

    name = "guides.handover"
    label = "handover"
    verbose_name = "客户继承 Customer handover"
