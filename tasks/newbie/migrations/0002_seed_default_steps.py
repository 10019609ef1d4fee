"""The mall's default newbie checklist (新手任务): five steps a new guide plays through in the first weeks.
Mall ops change titles, rewards, order, or switch steps off in the admin; this only fills an empty table."""

from django.db import migrations

STEPS = [
    dict(key="moments_cover", position=10, evidence="confirm", target=1, reward_coins=10, reward_exp=10,
         title="设置朋友圈封面", title_en="Set your Moments cover",
         hint="企业微信 → 客户朋友圈 → 点封面，换成品牌形象图 · WeCom → Customer Moments → tap the cover to change it"),
    dict(key="add_customers", position=20, evidence="customers_added", target=3, reward_coins=30, reward_exp=30,
         title="添加3位客户", title_en="Add 3 customers",
         hint="在「二维码」页请顾客扫码加您 · Let customers scan your code on the My QR tab"),
    dict(key="post_moment", position=30, evidence="wecom_moment", target=1, reward_coins=20, reward_exp=20,
         title="发布1条朋友圈", title_en="Post 1 Moment",
         hint="在企业微信「客户朋友圈」发一条，再点「核验」 · Post in WeCom's Customer Moments, then tap Check"),
    dict(key="first_lifecycle_task", position=40, evidence="lifecycle_task_done", target=1, reward_coins=20,
         reward_exp=20, title="完成第1个客户任务", title_en="Finish a first lifecycle task",
         hint="在下方今日任务里发送话术并点「完成」 · Send a script from today's tasks below, then tap Done"),
    dict(key="first_share_link", position=50, evidence="share_link", target=1, reward_coins=20, reward_exp=20,
         title="分享第1个专属链接", title_en="Share a first link",
         hint="在「链接」页生成专属链接发给顾客 · Make your link on the Links tab and send it to a customer"),
]


def seed(apps, schema_editor):
    NewbieStep = apps.get_model("newbie", "NewbieStep")
    if NewbieStep.objects.exists():
        return
    NewbieStep.objects.bulk_create([NewbieStep(**step) for step in STEPS])


class Migration(migrations.Migration):
    dependencies = [("newbie", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
