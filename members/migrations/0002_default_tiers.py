from django.db import migrations

DEFAULT_TIERS = [("normal", "普卡 Normal", 0), ("silver", "银卡 Silver", 2000), ("gold", "金卡 Gold", 10000)]


def create_tiers(apps, schema_editor):
    if schema_editor.connection.schema_name != "public":
        return
    TierRule = apps.get_model("members", "TierRule")
    for code, name, points in DEFAULT_TIERS:
        TierRule.objects.get_or_create(code=code, defaults={"name": name, "min_points_12m": points})


class Migration(migrations.Migration):
    dependencies = [("members", "0001_initial")]
    operations = [migrations.RunPython(create_tiers, migrations.RunPython.noop)]
