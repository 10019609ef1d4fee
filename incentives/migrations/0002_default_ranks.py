from django.db import migrations

# The seed mall's ladder (王者荣耀 style); mall ops edit the thresholds in the admin.
DEFAULT_RANKS = [
    ("bronze", "青铜 Bronze", 0),
    ("silver", "白银 Silver", 500),
    ("gold", "黄金 Gold", 2000),
    ("platinum", "铂金 Platinum", 5000),
    ("diamond", "钻石 Diamond", 10000),
    ("star", "星耀 Star", 20000),
    ("king", "王者 King", 50000),
]


def create_ranks(apps, schema_editor):
    if schema_editor.connection.schema_name != "public":
        return
    RankRule = apps.get_model("incentives", "RankRule")
    for code, name, min_exp in DEFAULT_RANKS:
        RankRule.objects.get_or_create(code=code, defaults={"name": name, "min_exp": min_exp})


class Migration(migrations.Migration):
    dependencies = [("incentives", "0001_initial")]
    operations = [migrations.RunPython(create_ranks, migrations.RunPython.noop)]
