"""How did you hear about us (SPEC §10): the person's words and the channel they name.

Both columns are added without rewriting the table (an empty default, a NULL), and both partial
indexes start empty (no contact names a channel yet): building them reads the table once and
writes nothing, so a large contacts table is held for seconds only."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0010_import_job_permissions'),
        ('leads', '0014_refund_permissions'),
    ]

    operations = [
        migrations.AddField(
            model_name='contact',
            name='heard_about',
            field=models.CharField(blank=True, default='', help_text='How the person says they heard about us, in their own words.', max_length=200, verbose_name='heard about us'),
        ),
        migrations.AddField(
            model_name='contact',
            name='heard_channel',
            field=models.ForeignKey(blank=True, db_index=False, help_text="The channel the person's words name (empty when they name none).", null=True, on_delete=django.db.models.deletion.PROTECT, related_name='heard_contacts', to='campaigns.channel', verbose_name='heard via'),
        ),
        migrations.AddIndex(
            model_name='contact',
            index=models.Index(condition=models.Q(('heard_channel__isnull', False)), fields=['heard_channel', '-id'], name='contact_heard_idx'),
        ),
        migrations.AddIndex(
            model_name='contact',
            index=models.Index(condition=models.Q(('heard_channel__isnull', False)), fields=['entered_at'], include=('heard_channel',), name='contact_heard_entered_idx'),
        ),
    ]
