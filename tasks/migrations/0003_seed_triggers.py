"""Every brand starts with the seven event triggers configured (they can be edited or switched off)."""

from django.db import migrations

TRIGGERS = [
    dict(kind="birthday", offset=3, title="生日关怀", due_window_days=3, reward_coins=10, reward_exp=10,
         script="{name}您好，您的生日快到啦！提前祝您生日快乐，生日礼已为您准备好，到店或线上都可领取哦～"),
    dict(kind="tier_upgrade", offset=0, title="升级祝贺", due_window_days=3, reward_coins=10, reward_exp=10,
         script="恭喜{name}升级为新等级会员！新等级的专属权益已生效，我帮您介绍一下吧～"),
    dict(kind="points_expiring", offset=30, title="积分即将到期", due_window_days=7, reward_coins=5, reward_exp=5,
         script="{name}您好，您有一部分积分即将到期，可以兑换礼品或抵扣现金，别浪费啦～"),
    dict(kind="coupon_expiring", offset=3, title="优惠券即将到期", due_window_days=3, reward_coins=5, reward_exp=5,
         script="{name}您好，您的优惠券马上就要到期了，这几天到店即可使用，需要我帮您预留商品吗？"),
    dict(kind="coupon_viewed_unused", offset=48, title="看券未用提醒", due_window_days=3, reward_coins=5,
         reward_exp=5, script="{name}您好，看到您领取了优惠券，有喜欢的商品吗？我可以帮您推荐搭配～"),
    dict(kind="dormant", offset=60, title="沉睡唤醒", due_window_days=7, reward_coins=10, reward_exp=10,
         script="{name}您好，好久不见！最近上新了不少好物，还为老朋友准备了回店礼，有空来逛逛吧～"),
    dict(kind="group_100_days", offset=100, title="入群100天纪念", due_window_days=3, reward_coins=5, reward_exp=5,
         script="{name}您好，您加入我们社群已经100天啦，感谢一路陪伴，送您一份纪念小礼～"),
]


def seed(apps, schema_editor):
    TriggerConfig = apps.get_model("tasks", "TriggerConfig")
    for spec in TRIGGERS:
        TriggerConfig.objects.get_or_create(kind=spec["kind"], defaults=spec)


class Migration(migrations.Migration):
    dependencies = [("tasks", "0002_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
