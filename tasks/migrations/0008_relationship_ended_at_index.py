"""Ended relationships by ``ended_at``: a same-day re-run of the engine cancels the open tasks of the
relationships ended since the last run (tasks.engine), a range scan instead of checking every open task."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [("tasks", "0007_engine_lookup_indexes")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS tasks_relationship_ended_at ON brandguides_relationship (ended_at) "
            "WHERE status <> 'active'",
            "DROP INDEX IF EXISTS tasks_relationship_ended_at",
        ),
    ]
