"""The cohort durations (entry to lead, entry to customer) get a day cache (issue 11)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('reports', '0017_month_rollups'),
    ]

    operations = [
        migrations.CreateModel(
            name='DurationDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('time_zone', models.CharField(default='UTC', max_length=64)),
                ('day', models.DateField()),
                ('rows', models.JSONField(default=list)),
                ('computed_at', models.DateTimeField()),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('time_zone', 'day'), name='duration_day_unique_tz')],
            },
        ),
    ]
