"""Indexes that keep a night's generation proportional to the work due, not to the number of members
(measured by bench/tasks_generate.py):

- relationships by ``added_at`` (active ones): the lifecycle nodes of a day, the relationships added since the
  last run, and the dormant trigger's adds in its window are range scans instead of reading every relationship;
- done tasks by ``completed_at`` and redeemed brand coupons by ``redeemed_at``: the dormant trigger's other
  kinds of activity in its window.

The relationship and coupon tables belong to other tenant apps; like tasks_mall 0003, the engine's indexes on
them live with the engine.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0004_enginerun_watermark"),
        ("brandguides", "0005_relationship_details"),
        ("brandmembers", "0002_initial"),
    ]
    operations = [
        migrations.AddIndex(
            model_name="guidetask",
            index=models.Index(condition=models.Q(state="done"), fields=["completed_at"], name="guidetask_done_at"),
        ),
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS tasks_relationship_active_added_at ON brandguides_relationship (added_at) "
            "WHERE status = 'active'",
            "DROP INDEX IF EXISTS tasks_relationship_active_added_at",
        ),
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS tasks_brandcoupon_redeemed_at ON brandmembers_brandcoupon (redeemed_at) "
            "WHERE redeemed_at IS NOT NULL",
            "DROP INDEX IF EXISTS tasks_brandcoupon_redeemed_at",
        ),
    ]
