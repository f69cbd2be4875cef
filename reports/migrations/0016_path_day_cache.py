"""The conversion paths get a day cache, like the attribution's (issue 11)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('reports', '0015_subscription_address_constraints'),
    ]

    operations = [
        migrations.CreateModel(
            name='PathDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('lookback_days', models.PositiveSmallIntegerField()),
                ('time_zone', models.CharField(default='UTC', max_length=64)),
                ('day', models.DateField()),
                ('rows', models.JSONField(default=list)),
                ('computed_at', models.DateTimeField()),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('lookback_days', 'time_zone', 'day'), name='path_day_unique_tz')],
            },
        ),
    ]
