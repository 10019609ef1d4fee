"""Indexes on the mall's tables for the event triggers, which run in every brand on every run
(measured by bench/tasks_generate.py):

- birthdays: the index of 0003 now also carries the member's id and birthday, so finding the members whose
  birthday is due is an index-only scan instead of one heap fetch per member (it replaces 0003's index);
- points earned at one brand within the dormant trigger's window: proportional to a week of that brand's
  points, not to the mall's whole ledger.
"""

from django.db import migrations

BIRTHDAY_KEY = "(((EXTRACT(MONTH FROM birthday) * 100 + EXTRACT(DAY FROM birthday))::int))"


class Migration(migrations.Migration):
    dependencies = [("tasks_mall", "0004_campaigns"), ("members", "0002_default_tiers")]
    operations = [
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS tasks_member_birthday_due ON members_member {BIRTHDAY_KEY} "
            "INCLUDE (id, birthday) WHERE birthday IS NOT NULL; "
            "DROP INDEX IF EXISTS tasks_member_birthday_mmdd",
            f"CREATE INDEX IF NOT EXISTS tasks_member_birthday_mmdd ON members_member {BIRTHDAY_KEY} "
            "WHERE birthday IS NOT NULL; "
            "DROP INDEX IF EXISTS tasks_member_birthday_due",
        ),
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS tasks_points_earned_at ON members_pointsentry (brand_id, created_at) "
            "WHERE kind = 'earn'",
            "DROP INDEX IF EXISTS tasks_points_earned_at",
        ),
    ]
