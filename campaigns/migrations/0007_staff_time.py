"""Staff time: staff members, their hourly rates by date, and time entries that are costs (issue 12)."""

import campaigns.models
import django.core.validators
import django.db.models.deletion
from decimal import Decimal
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0006_marketing_maps_campaign_names'),
    ]

    operations = [
        migrations.CreateModel(
            name='StaffMember',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=200, unique=True)),
                ('active', models.BooleanField(default=True, help_text='Shown on the timesheet.')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'verbose_name': 'staff member',
                'ordering': ['name'],
            },
        ),
        migrations.CreateModel(
            name='HourlyRate',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('effective_from', models.DateField()),
                ('rate', models.DecimalField(decimal_places=2, max_digits=14, validators=[django.core.validators.MinValueValidator(Decimal('0.00'))])),
                ('staff', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='rates', to='campaigns.staffmember')),
            ],
            options={
                'ordering': ['staff', '-effective_from'],
                'constraints': [models.UniqueConstraint(fields=('staff', 'effective_from'), name='rate_unique_day'), models.CheckConstraint(condition=models.Q(('rate__gte', 0)), name='rate_not_negative')],
            },
        ),
        migrations.CreateModel(
            name='TimeEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('date', models.DateField(validators=[campaigns.models.not_in_future])),
                ('hours', models.DecimalField(decimal_places=2, help_text='Up to 24 a day.', max_digits=4, validators=[django.core.validators.MinValueValidator(Decimal('0.01'))])),
                ('note', models.CharField(blank=True, max_length=300)),
                ('campaign', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='time_entries', to='campaigns.campaign')),
                ('cost', models.OneToOneField(editable=False, on_delete=django.db.models.deletion.CASCADE, related_name='time_entry', to='campaigns.cost')),
                ('staff', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='time_entries', to='campaigns.staffmember')),
            ],
            options={
                'verbose_name_plural': 'time entries',
                'ordering': ['-date', 'staff'],
                'indexes': [models.Index(fields=['staff', 'date'], name='campaigns_t_staff_i_db9804_idx')],
                'constraints': [models.UniqueConstraint(fields=('staff', 'campaign', 'date'), name='time_entry_unique_day'), models.CheckConstraint(condition=models.Q(('hours__gt', 0), ('hours__lte', 24)), name='time_entry_hours_in_a_day')],
            },
        ),
    ]
