"""Indexes for the steps every run repeats (measured by bench/tasks_generate.py):
- active relationships by member, in the order the triggers pick one (first added), carrying the guide: an
  event trigger looks up the member's relationship for each of the mall's events (the birthdays due, ~5,000 a
  night for 1,000,000 members, in every brand); this answers it from the index alone, first entry, where the
  member index needed a heap fetch and a sort for each;
- done tasks whose reward is not credited yet: the rewards step reads those, not the brand's whole history.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("tasks", "0006_engine_parts"),
        ("brandguides", "0005_relationship_details"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS tasks_relationship_active_member ON brandguides_relationship "
            "(member_id, added_at, id) INCLUDE (guide_id) WHERE status = 'active'",
            "DROP INDEX IF EXISTS tasks_relationship_active_member",
        ),
        migrations.AddIndex(
            model_name="guidetask",
            index=models.Index(condition=models.Q(("reward_credited_at__isnull", True), ("state", "done"),
                                                  models.Q(("reward_coins__gt", 0), ("reward_exp__gt", 0),
                                                           _connector="OR")),
                               fields=["id"], name="guidetask_reward_due"),
        ),
    ]
