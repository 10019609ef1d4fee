"""The birthday trigger looks members up by month and day of birth; this index keeps that proportional to
the birthdays due, not to the number of members."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("tasks_mall", "0002_seed_default_program"), ("members", "0002_default_tiers")]
    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS tasks_member_birthday_mmdd ON members_member "
            "(((EXTRACT(MONTH FROM birthday) * 100 + EXTRACT(DAY FROM birthday))::int)) WHERE birthday IS NOT NULL",
            "DROP INDEX IF EXISTS tasks_member_birthday_mmdd",
        ),
    ]
