"""Imports started in the admin: the uploaded file, its column mapping, its progress (issue 12)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0008_marketing_keeps_staff_time'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ImportMapping',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(max_length=40)),
                ('header_key', models.CharField(help_text="A hash of the file's column names.", max_length=64)),
                ('mapping', models.JSONField(default=dict)),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('kind', 'header_key'), name='import_mapping_unique')],
            },
        ),
        migrations.CreateModel(
            name='ImportJob',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(max_length=20)),
                ('platform', models.CharField(blank=True, choices=[('meta', 'Meta (Facebook, Instagram)'), ('google', 'Google Ads'), ('linkedin', 'LinkedIn'), ('tiktok', 'TikTok'), ('ga4', 'GA4 cost data')], max_length=20)),
                ('file_name', models.CharField(max_length=255)),
                ('data', models.BinaryField(help_text='The uploaded file, as sent.')),
                ('lines', models.PositiveIntegerField(default=0)),
                ('header', models.JSONField(default=list, help_text="The file's column names.")),
                ('mapping', models.JSONField(default=dict, help_text="The file's columns to ours.")),
                ('dry_run', models.BooleanField(default=False)),
                ('status', models.CharField(choices=[('draft', 'Waiting for its columns'), ('pending', 'Queued'), ('running', 'Importing'), ('done', 'Done'), ('failed', 'Failed')], default='draft', max_length=10)),
                ('line', models.PositiveIntegerField(default=0, help_text='The last line imported so far.')),
                ('rows', models.PositiveIntegerField(default=0)),
                ('created', models.PositiveIntegerField(default=0)),
                ('unchanged', models.PositiveIntegerField(default=0)),
                ('skipped', models.PositiveIntegerField(default=0)),
                ('rejected', models.JSONField(default=list, help_text='[line, column, reason] per problem.')),
                ('error', models.TextField(blank=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-created_at'],
                'indexes': [models.Index(fields=['status', 'created_at'], name='campaigns_i_status_71ba6d_idx')],
            },
        ),
    ]
