from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports"

    def ready(self) -> None:
        from campaigns.changes import data_changed
        from reports.changes import on_data_changed

        # The one change path: the services below declare what they changed; reports decides
        # what that voids (day caches, page figures, saved reports).
        data_changed.connect(on_data_changed, dispatch_uid="reports-data-changed")
