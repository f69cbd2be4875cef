"""Ad platforms' campaign names, mapped once to our campaigns (issue 12)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0004_not_in_future'),
    ]

    operations = [
        migrations.CreateModel(
            name='CampaignAlias',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('platform', models.CharField(choices=[('meta', 'Meta (Facebook, Instagram)'), ('google', 'Google Ads'), ('linkedin', 'LinkedIn'), ('tiktok', 'TikTok'), ('ga4', 'GA4 cost data')], max_length=20)),
                ('name', models.CharField(help_text="As the platform's export writes it.", max_length=300)),
                ('name_key', models.CharField(editable=False, help_text='Lower case.', max_length=300)),
                ('first_seen_at', models.DateTimeField(auto_now_add=True)),
                ('campaign', models.ForeignKey(blank=True, help_text='Empty until someone maps it.', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='platform_names', to='campaigns.campaign')),
            ],
            options={
                'verbose_name': 'ad platform campaign name',
                'verbose_name_plural': 'ad platform campaign names',
                'ordering': ['platform', 'name_key'],
                'constraints': [models.UniqueConstraint(fields=('platform', 'name_key'), name='campaign_alias_unique_name')],
            },
        ),
    ]
