"""Subscriptions name an email address (issue 11): step 3, one row per address and kind."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("reports", "0014_subscription_addresses_from_users")]

    operations = [
        migrations.AddConstraint(
            model_name="reportsubscription",
            constraint=models.UniqueConstraint(
                fields=("email", "granularity"), name="subscription_unique_address"
            ),
        ),
        migrations.AddConstraint(
            model_name="reportsubscription",
            constraint=models.CheckConstraint(
                condition=models.Q(granularity__in=["daily", "weekly", "monthly"]),
                name="subscription_periodic_granularity",
            ),
        ),
    ]
