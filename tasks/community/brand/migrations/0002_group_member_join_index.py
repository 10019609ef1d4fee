"""The 100-days milestone (and the "N days in a customer group" trigger of tasks.triggers, same predicate) looks up
the customers still in a group who joined on given days; this index keeps that proportional to the joins of those
days, not to every group member of the brand, on every hourly run."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("communitybrand", "0001_initial"), ("brandguides", "0005_relationship_details")]
    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS community_groupmember_join ON brandguides_customergroupmember (join_time) "
            "WHERE type = 'external' AND left_at IS NULL",
            "DROP INDEX IF EXISTS community_groupmember_join",
        ),
    ]
