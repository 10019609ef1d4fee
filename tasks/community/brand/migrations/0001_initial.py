import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('brandguides', '0005_relationship_details'),
        ('community', '0001_initial'),
        ('guides', '0002_initial'),
        ('members', '0002_default_tiers'),
    ]

    operations = [
        migrations.CreateModel(
            name='GroupNodeSwitchOff',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('switched_by', models.CharField(blank=True, max_length=120, verbose_name='操作人 By')),
                ('switched_at', models.DateTimeField(auto_now_add=True)),
                ('node', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='community.groupnode', verbose_name='总部群任务节点 HQ group node')),
            ],
            options={
                'verbose_name': '关闭的总部群任务 Switched-off HQ group node',
                'verbose_name_plural': '关闭的总部群任务 Switched-off HQ group nodes',
            },
        ),
        migrations.CreateModel(
            name='GroupTask',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('period', models.CharField(max_length=20, verbose_name='周期 Period')),
                ('kind', models.CharField(choices=[('coupon_drop', '群专属券 Group-exclusive coupon drop'), ('lottery', '群抽奖 Lottery'), ('daily_game', '每日群游戏 Daily group game'), ('milestone_100_days', '入群100天 Member reaches 100 days'), ('custom', '自定义 Custom')], max_length=20, verbose_name='类型 Kind')),
                ('title', models.CharField(max_length=100, verbose_name='标题 Title')),
                ('guide_notes', models.TextField(blank=True, verbose_name='怎么做 How to')),
                ('script', models.TextField(blank=True, verbose_name='群话术 Script')),
                ('subjects', models.JSONField(blank=True, default=list, verbose_name='涉及成员 Members concerned')),
                ('subjects_count', models.PositiveIntegerField(default=0, verbose_name='涉及人数 Members concerned (count)')),
                ('occurs_on', models.DateField(verbose_name='任务日 Day')),
                ('issued_on', models.DateField(verbose_name='下发日 Issued on')),
                ('due_on', models.DateField(verbose_name='截止日 Due on')),
                ('state', models.CharField(choices=[('open', '待完成 Open'), ('done', '已完成 Done'), ('expired', '已过期 Expired'), ('cancelled', '已取消 Cancelled')], default='open', max_length=10, verbose_name='状态 State')),
                ('late', models.BooleanField(default=False, verbose_name='补发 Late')),
                ('completed_at', models.DateTimeField(blank=True, null=True, verbose_name='完成时间 Completed')),
                ('completed_by', models.CharField(blank=True, help_text='guide, or auto:<evidence>', max_length=40, verbose_name='完成方式 Completed by')),
                ('evidence', models.JSONField(blank=True, default=dict, verbose_name='凭证 Evidence')),
                ('note', models.TextField(blank=True, max_length=1000, verbose_name='备注 Note')),
                ('reward_coins', models.PositiveIntegerField(default=0, verbose_name='金币奖励 Coins')),
                ('reward_exp', models.PositiveIntegerField(default=0, verbose_name='经验奖励 Experience')),
                ('reward_credited_at', models.DateTimeField(blank=True, null=True, verbose_name='奖励发放 Reward credited')),
                ('closed_at', models.DateTimeField(blank=True, null=True, verbose_name='关闭时间 Closed (expired/cancelled)')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('coupon_template', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='members.coupontemplate', verbose_name='商场券 Mall coupon')),
                ('group', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='brandguides.customergroup', verbose_name='客户群 Group')),
                ('guide', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='guides.guide', verbose_name='群主 Owner guide')),
                ('node', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='community.groupnode', verbose_name='节点 Node')),
            ],
            options={
                'verbose_name': '群任务 Group task',
                'verbose_name_plural': '群任务 Group tasks',
                'ordering': ['due_on', 'id'],
                'indexes': [models.Index(condition=models.Q(('state', 'open')), fields=['guide', 'due_on'], name='grouptask_guide_open'), models.Index(fields=['group', 'state'], name='grouptask_group_state'), models.Index(condition=models.Q(('state', 'open')), fields=['due_on'], name='grouptask_open_due')],
                'constraints': [models.UniqueConstraint(fields=('group', 'node', 'period'), name='grouptask_once'), models.CheckConstraint(condition=models.Q(models.Q(('completed_at__isnull', False), ('state', 'done')), models.Q(('state', 'done'), _negated=True), _connector='OR'), name='grouptask_done_has_time')],
            },
        ),
    ]
