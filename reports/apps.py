from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports"

    def ready(self) -> None:
        from campaigns.models import Campaign, Channel, Coupon
        from reports.dashboard import catalogue_changed

        # Labels and targets in cached page figures come from these.
        for model in (Channel, Campaign, Coupon):
            post_save.connect(catalogue_changed, sender=model, dispatch_uid=f"catalogue-{model}")
            post_delete.connect(
                catalogue_changed, sender=model, dispatch_uid=f"catalogue-del-{model}"
            )
