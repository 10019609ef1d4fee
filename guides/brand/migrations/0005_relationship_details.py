# Relationship details from follow_info (remark, description, corp tags): the sync and reconcile keep them

import django.contrib.postgres.fields
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('brandguides', '0004_customer_groups'),
    ]

    operations = [
        migrations.AddField(
            model_name='relationship',
            name='description',
            field=models.CharField(blank=True, db_default='', default='', max_length=255, verbose_name='描述 Description'),
        ),
        migrations.AddField(
            model_name='relationship',
            name='remark',
            field=models.CharField(blank=True, db_default='', default='', max_length=64, verbose_name='备注 Remark'),
        ),
        migrations.AddField(
            model_name='relationship',
            name='tag_ids',
            field=django.contrib.postgres.fields.ArrayField(base_field=models.CharField(max_length=64), blank=True, db_default=models.Value([], output_field=django.contrib.postgres.fields.ArrayField(base_field=models.CharField(max_length=64), size=None)), default=list, size=None, verbose_name='企业标签 Corp tag ids'),
        ),
    ]
