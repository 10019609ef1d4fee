import django.contrib.postgres.fields
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('members', '0002_default_tiers'),
        ('tenants', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='InterestTag',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('code', models.SlugField(help_text='Stored on the groups; never reuse a code for another interest', max_length=30, unique=True, verbose_name='标识 Code')),
                ('name', models.CharField(help_text='中文 English, e.g. 护肤 Skincare', max_length=40, verbose_name='名称 Name')),
                ('position', models.PositiveSmallIntegerField(default=0, verbose_name='顺序 Order')),
                ('is_active', models.BooleanField(default=True, verbose_name='启用 Active')),
            ],
            options={
                'verbose_name': '群兴趣标签 Group interest tag',
                'verbose_name_plural': '群兴趣标签 Group interest tags',
                'ordering': ['position', 'code'],
            },
        ),
        migrations.CreateModel(
            name='GroupNode',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('title', models.CharField(max_length=100, verbose_name='标题 Title')),
                ('kind', models.CharField(choices=[('coupon_drop', '群专属券 Group-exclusive coupon drop'), ('lottery', '群抽奖 Lottery'), ('daily_game', '每日群游戏 Daily group game'), ('milestone_100_days', '入群100天 Member reaches 100 days'), ('custom', '自定义 Custom')], max_length=20, verbose_name='类型 Kind')),
                ('guide_notes', models.TextField(blank=True, help_text='What the group owner does, step by step; not sent to customers', max_length=1000, verbose_name='怎么做 How to (for the guide)')),
                ('script', models.TextField(help_text="Posted into the group. {group} = the group's name; {names} = the members who reached the milestone", max_length=2000, verbose_name='群话术 Script for the group')),
                ('schedule', models.CharField(choices=[('daily', '每天 Every day'), ('weekly', '每周某天 Weekly on a weekday'), ('after_created', '建群后第N天 N days after the group was created'), ('member_days', "成员入群满N天 A member's N days in the group")], max_length=20, verbose_name='频率 Schedule')),
                ('weekday', models.PositiveSmallIntegerField(blank=True, choices=[(1, '周一 Monday'), (2, '周二 Tuesday'), (3, '周三 Wednesday'), (4, '周四 Thursday'), (5, '周五 Friday'), (6, '周六 Saturday'), (7, '周日 Sunday')], help_text='Weekly schedule only', null=True, verbose_name='星期 Weekday')),
                ('offset_days', models.PositiveSmallIntegerField(blank=True, help_text="'N days after creation' and 'member's N days' only", null=True, verbose_name='N天 N days')),
                ('due_window_days', models.PositiveSmallIntegerField(default=1, help_text='1 = on its day only', verbose_name='完成期限(天) Due window (days)')),
                ('interest_tags', django.contrib.postgres.fields.ArrayField(base_field=models.CharField(max_length=30), blank=True, default=list, help_text='Codes of interest tags; empty = every group', size=None, verbose_name='兴趣标签 Interest tags')),
                ('optional', models.BooleanField(default=True, help_text='Brands may switch it off', verbose_name='品牌可关闭 Optional')),
                ('is_active', models.BooleanField(default=True, verbose_name='启用 Active')),
                ('starts_on', models.DateField(help_text='No task is issued for a day before this', verbose_name='开始日期 Starts on')),
                ('ends_on', models.DateField(blank=True, null=True, verbose_name='结束日期 Ends on')),
                ('reward_coins', models.PositiveIntegerField(default=0, verbose_name='金币奖励 Coins')),
                ('reward_exp', models.PositiveIntegerField(default=0, verbose_name='经验奖励 Experience')),
                ('position', models.PositiveSmallIntegerField(default=0, verbose_name='顺序 Order')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('brands', models.ManyToManyField(blank=True, help_text='Empty = every brand', related_name='+', to='tenants.brand', verbose_name='品牌 Brands')),
                ('coupon_template', models.ForeignKey(blank=True, help_text='For a coupon drop: issuing it to group members completes the task', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='members.coupontemplate', verbose_name='商场券 Mall coupon')),
                ('stores', models.ManyToManyField(blank=True, help_text='Empty = every store', related_name='+', to='tenants.store', verbose_name='门店 Stores')),
            ],
            options={
                'verbose_name': '总部群任务节点 HQ group node',
                'verbose_name_plural': '总部群任务节点 HQ group nodes',
                'ordering': ['position', 'id'],
                'constraints': [models.CheckConstraint(condition=models.Q(('due_window_days__gte', 1), ('due_window_days__lte', 30)), name='groupnode_window_1_30'), models.CheckConstraint(condition=models.Q(models.Q(('schedule', 'weekly'), _negated=True), ('weekday__isnull', False), _connector='OR'), name='groupnode_weekly_has_weekday'), models.CheckConstraint(condition=models.Q(models.Q(('schedule__in', ['after_created', 'member_days']), _negated=True), ('offset_days__isnull', False), _connector='OR'), name='groupnode_offset_when_needed'), models.CheckConstraint(condition=models.Q(models.Q(('kind', 'milestone_100_days'), ('schedule', 'member_days')), models.Q(models.Q(('kind', 'milestone_100_days'), _negated=True), models.Q(('schedule', 'member_days'), _negated=True)), _connector='OR'), name='groupnode_milestone_schedule')],
            },
        ),
    ]
