from django.apps import AppConfig


class IncentivesConfig(AppConfig):
    name = "incentives"
    verbose_name = "导购激励 Guide incentives"

    def ready(self) -> None:
        from . import leaderboards

        leaderboards.connect()  # orders, credits and new customers move the boards in real time
