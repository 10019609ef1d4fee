"""The mall's starting set of interest tags and HQ group nodes (群任务节点). Mall ops edit, add or switch them off
in the admin (and pick the coupon of the Friday drop); this only fills empty tables."""

import datetime as dt

from django.db import migrations

TAGS = [
    ("skincare", "护肤 Skincare"), ("makeup", "彩妆 Makeup"), ("fragrance", "香氛 Fragrance"),
    ("mother_baby", "母婴 Mother & baby"), ("sports", "运动 Sports"), ("fashion", "时尚穿搭 Fashion"),
    ("food", "美食 Food"), ("family", "亲子 Family"),
]

NODES = [
    dict(position=10, kind="custom", schedule="after_created", offset_days=0, due_window_days=3, optional=False,
         reward_coins=10, reward_exp=10, title="发布群公告与群规 · Pin the group notice and rules",
         guide_notes="建群当天在群里发布群公告：群规、福利节奏（周五专属券、周日抽奖、每日小游戏） · On the day the group "
                     "is created, pin the notice: rules and the rhythm of perks.",
         script="欢迎加入{group}！每周五有群专属券，周日抽奖，每天还有小游戏～请勿发广告，祝大家玩得开心！"),
    dict(position=20, kind="coupon_drop", schedule="weekly", weekday=5, due_window_days=2, optional=True,
         reward_coins=20, reward_exp=20, title="周五群专属券 · Friday group-exclusive coupon drop",
         guide_notes="在群里发专属券领取链接；有群成员领到本周的券，任务自动完成 · Post the coupon link in the group; "
                     "once a member gets this week's coupon the task completes by itself.",
         script="【群专属福利】本周五限定券已上线，仅限本群成员领取，先到先得～"),
    dict(position=30, kind="lottery", schedule="weekly", weekday=7, due_window_days=1, optional=True,
         reward_coins=20, reward_exp=20, title="周日群抽奖 · Sunday lottery",
         guide_notes="用企业微信群接龙或抽奖小程序发起抽奖，晚上8点开奖，公布中奖名单 · Start the lottery, draw at "
                     "8 pm and post the winners.",
         script="周日抽奖来啦！参与接龙即可抽取小样礼盒，今晚8点开奖～"),
    dict(position=40, kind="daily_game", schedule="daily", due_window_days=1, optional=True,
         reward_coins=5, reward_exp=5, title="每日群游戏 · Daily group game",
         guide_notes="每天一个小互动：猜价格、护肤小测验、晒单打卡 · One small game a day: guess the price, a quiz, "
                     "a check-in.",
         script="今日小游戏：猜猜这款明星单品的价格？最接近的前3位送积分～"),
    dict(position=50, kind="milestone_100_days", schedule="member_days", offset_days=100, due_window_days=3,
         optional=False, reward_coins=10, reward_exp=10, title="入群100天祝贺 · Members reach 100 days",
         guide_notes="在群里@这些成员，祝贺入群100天，并私聊送上小礼 · Congratulate them in the group and send a "
                     "small gift in private.",
         script="恭喜{names}加入{group}满100天！感谢一路陪伴，小礼物已私信送上～"),
]


def seed(apps, schema_editor):
    InterestTag = apps.get_model("community", "InterestTag")
    GroupNode = apps.get_model("community", "GroupNode")
    if not InterestTag.objects.exists():
        InterestTag.objects.bulk_create([InterestTag(code=code, name=name, position=n * 10)
                                         for n, (code, name) in enumerate(TAGS, start=1)])
    if not GroupNode.objects.exists():
        today = dt.date.today()
        GroupNode.objects.bulk_create([GroupNode(starts_on=today, **node) for node in NODES])


class Migration(migrations.Migration):
    dependencies = [("community", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
