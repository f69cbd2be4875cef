"""Closed months of the day caches added up, so a year reads twelve rows (issue 11)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('reports', '0016_path_day_cache'),
    ]

    operations = [
        migrations.CreateModel(
            name='MonthRollup',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('cache', models.CharField(max_length=40)),
                ('keys', models.CharField(blank=True, default='', max_length=200)),
                ('time_zone', models.CharField(default='UTC', max_length=64)),
                ('month', models.DateField(help_text="The month's first day.")),
                ('rows', models.JSONField(default=list)),
                ('computed_at', models.DateTimeField()),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('cache', 'keys', 'time_zone', 'month'), name='month_rollup_unique')],
            },
        ),
    ]
