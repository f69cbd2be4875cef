"""Subscriptions name an email address, not only a user (issue 11): step 1, the columns."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0012_marketing_may_delete_reports"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="reportsubscription", name="subscription_unique"),
        migrations.AddField(
            model_name="reportsubscription",
            name="email",
            field=models.EmailField(default="", max_length=254),
            preserve_default=False,
        ),
        migrations.RenameField(model_name="reportsubscription", old_name="user", new_name="added_by"),
        migrations.AlterField(
            model_name="reportsubscription",
            name="added_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="report_subscriptions",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterModelOptions(
            name="reportsubscription", options={"ordering": ["email", "granularity"]}
        ),
    ]
