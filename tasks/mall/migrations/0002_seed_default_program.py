"""Seed the mall's default lifecycle program: 28天忠诚客户习惯 · 28-day loyal customer habit (version 1)."""

from django.db import migrations
from django.utils import timezone

NODES = [
    dict(key="d0", day_offset=0, task_type="welcome", title="欢迎礼 + 邀请入群",
         script="{name}您好！欢迎成为我们的会员，您的新人欢迎礼已放入卡包，记得查收～"
                "另外邀请您加入我们的会员社群，新品、福利和护理小贴士都会第一时间分享给您。",
         due_window_days=2, reward_coins=10, reward_exp=10, optional=False),
    dict(key="d7", day_offset=7, task_type="benefits", title="新会员7天权益",
         script="{name}您好，入会一周啦！为您整理了新会员专属权益：积分当钱花、生日礼、会员日双倍积分，"
                "有任何需要随时找我～",
         due_window_days=3, reward_coins=10, reward_exp=10, optional=False),
    dict(key="d14", day_offset=14, task_type="care", title="使用回访",
         script="{name}您好，上次选购的产品用得怎么样？如果有任何使用上的疑问，我可以一对一为您解答。",
         due_window_days=3, reward_coins=5, reward_exp=10, optional=True),
    dict(key="d21", day_offset=21, task_type="coupon", title="专属回店礼",
         script="{name}您好，为您准备了一份专属回店礼，本周到店即可使用，期待再次见到您！",
         due_window_days=5, reward_coins=5, reward_exp=10, optional=True),
    dict(key="d28", day_offset=28, task_type="habit", title="28天习惯达成 · 升级邀约",
         script="{name}您好，感谢这28天的陪伴！您距离下一会员等级只差一点点，近期活动可帮您快速升级，需要我帮您看看吗？",
         due_window_days=5, reward_coins=20, reward_exp=20, optional=False),
]


def seed(apps, schema_editor):
    Program = apps.get_model("tasks_mall", "Program")
    ProgramVersion = apps.get_model("tasks_mall", "ProgramVersion")
    ProgramNode = apps.get_model("tasks_mall", "ProgramNode")
    program, _ = Program.objects.get_or_create(
        code="loyal-28",
        defaults=dict(name="28天忠诚客户习惯 · 28-day loyal customer habit", is_default=True,
                      description="顾客首次添加导购后第0、7、14、21、28天各一个触达节点，养成到店与复购习惯。"),
    )
    if program.versions.exists():
        return
    version = ProgramVersion.objects.create(program=program, number=1, status="published",
                                            published_at=timezone.now(), note="初始版本 Initial")
    ProgramNode.objects.bulk_create([ProgramNode(version=version, **node) for node in NODES])


class Migration(migrations.Migration):
    dependencies = [("tasks_mall", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
