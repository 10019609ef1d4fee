"""WeCom integration records (public schema): the callback inbox, outbound calls, welcome deliveries."""

from __future__ import annotations

from django.db import models

from tenants.models import Brand


class InboxStatus(models.TextChoices):
    PENDING = "pending", "待处理 Pending"
    PROCESSING = "processing", "处理中 Processing"
    DONE = "done", "已处理 Done"
    IGNORED = "ignored", "已忽略 Ignored"
    FAILED = "failed", "失败 Failed"


class CallbackEvent(models.Model):
    """One WeCom callback (企业微信回调事件), stored before we answer so nothing is ever lost.

    ``dedup_key`` makes WeCom's retries (same payload, up to 3 times) land on the same row;
    ``status`` moves pending -> processing -> done/ignored/failed exactly once.
    """

    corp_id = models.CharField(max_length=64)
    dedup_key = models.CharField(max_length=255, unique=True)
    event = models.CharField(max_length=64, db_index=True)
    change_type = models.CharField(max_length=64, blank=True)
    user_id = models.CharField(max_length=64, blank=True, db_index=True)
    external_userid = models.CharField(max_length=64, blank=True, db_index=True)
    chat_id = models.CharField(max_length=64, blank=True)
    create_time = models.BigIntegerField(help_text="WeCom CreateTime (unix seconds)")
    payload = models.JSONField(help_text="The decrypted event, field by field")
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    receive_count = models.PositiveIntegerField(default=1, help_text="WeCom deliveries of this event")
    status = models.CharField(max_length=12, choices=InboxStatus.choices, default=InboxStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    brand = models.ForeignKey(Brand, null=True, blank=True, on_delete=models.SET_NULL)
    result = models.CharField(max_length=255, blank=True, help_text="What processing did, or why not")

    class Meta:
        verbose_name = "回调事件 Callback event"
        verbose_name_plural = "回调收件箱 Callback inbox"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="inbox_due",
                         condition=models.Q(status__in=["pending", "processing"])),
        ]

    def __str__(self) -> str:
        return f"{self.event}/{self.change_type} {self.user_id or self.chat_id} {self.external_userid}"


class CallbackRejection(models.Model):
    """A callback we refused (bad signature, wrong corp, malformed XML), kept for inspection."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    method = models.CharField(max_length=8)
    reason = models.CharField(max_length=40)
    detail = models.CharField(max_length=255, blank=True)
    remote_addr = models.CharField(max_length=64, blank=True)
    query = models.CharField(max_length=500, blank=True)
    body_excerpt = models.TextField(blank=True)

    class Meta:
        verbose_name = "拒绝的回调 Rejected callback"
        verbose_name_plural = "拒绝的回调 Rejected callbacks"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.reason}"


class CallStatus(models.TextChoices):
    OK = "ok", "成功 OK"
    ERROR = "error", "错误 Error"
    RATE_LIMITED = "rate_limited", "限流 Rate limited"
    NETWORK = "network", "网络错误 Network"


class ApiCall(models.Model):
    """Every outbound WeCom API call: endpoint, errcode, attempts, duration. Never a secret or token."""

    corp_id = models.CharField(max_length=64)
    method = models.CharField(max_length=6)
    endpoint = models.CharField(max_length=120, db_index=True)
    params = models.JSONField(default=dict, blank=True)
    body = models.JSONField(null=True, blank=True)
    errcode = models.IntegerField(null=True, blank=True)
    errmsg = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=14, choices=CallStatus.choices)
    attempts = models.PositiveSmallIntegerField(default=1)
    duration_ms = models.PositiveIntegerField(default=0)
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    redriven_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    redrivable = models.BooleanField(default=True, help_text="False when repeating it could duplicate a side effect")

    class Meta:
        verbose_name = "企微接口调用 WeCom API call"
        verbose_name_plural = "企微接口调用 WeCom API calls"
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "-at"], name="apicall_status")]

    def __str__(self) -> str:
        return f"{self.method} {self.endpoint} → {self.errcode}"


class WelcomeStatus(models.TextChoices):
    PENDING = "pending", "待发送 Pending"
    SENT = "sent", "已发送 Sent"
    CODE_EXPIRED = "code_expired", "欢迎语码过期 Code expired"
    ALREADY_CHATTING = "already_chatting", "已开始聊天 Already chatting"
    NO_CODE = "no_code", "无欢迎语码 No welcome code"
    NOT_CONFIGURED = "not_configured", "未配置欢迎语 Not configured"
    FAILED = "failed", "失败 Failed"


class WelcomeDelivery(models.Model):
    """The welcome message (欢迎语) for one add event, and what WeCom said about it."""

    event = models.OneToOneField(CallbackEvent, on_delete=models.CASCADE, related_name="welcome")
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT)
    guide = models.ForeignKey("guides.Guide", on_delete=models.PROTECT, related_name="+")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=20, choices=WelcomeStatus.choices, default=WelcomeStatus.PENDING)
    errcode = models.IntegerField(null=True, blank=True)
    coupon_code = models.CharField(max_length=16, blank=True)
    content = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True, help_text="From WeCom's CreateTime to sent")

    class Meta:
        verbose_name = "欢迎语发送 Welcome delivery"
        verbose_name_plural = "欢迎语发送 Welcome deliveries"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.get_status_display()} → {self.member_id}"


class Corp(models.Model):
    """A further WeCom corp: a brand that runs its own WeCom. The mall's corp comes from the environment.

    Secrets are encrypted at rest with the field-encryption keys.
    """

    corp_id = models.CharField("CorpID", max_length=64, unique=True)
    name = models.CharField("名称 Name", max_length=100)
    brand = models.OneToOneField(Brand, on_delete=models.PROTECT, related_name="wecom_corp")
    secret_encrypted = models.TextField(editable=False)
    agent_id = models.CharField("AgentID", max_length=20, blank=True)
    agent_secret_encrypted = models.TextField(editable=False, blank=True)
    token_encrypted = models.TextField(editable=False, blank=True)
    aes_key_encrypted = models.TextField(editable=False, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "品牌企业微信 Brand WeCom corp"
        verbose_name_plural = "品牌企业微信 Brand WeCom corps"

    def __str__(self) -> str:
        return f"{self.name} ({self.corp_id})"


class CorpTag(models.Model):
    """A corp tag (企业客户标签) from WeCom's tag library, corp-wide, kept in step by the
    change_external_tag callbacks and the full sync (``get_corp_tag_list``). A tag WeCom no longer
    returns is kept with ``deleted`` set, so old references stay readable."""

    corp_id = models.CharField(max_length=64)
    tag_id = models.CharField("标签ID Tag id", max_length=64)
    group_id = models.CharField("标签组ID Group id", max_length=64)
    group_name = models.CharField("标签组 Group", max_length=64)
    name = models.CharField("标签 Name", max_length=64)
    order = models.BigIntegerField("排序 Order", default=0, help_text="Bigger first (WeCom)")
    group_order = models.BigIntegerField("组排序 Group order", default=0)
    create_time = models.BigIntegerField(default=0, help_text="WeCom create_time (unix seconds)")
    deleted = models.BooleanField("已删除 Deleted", default=False)
    synced_at = models.DateTimeField("同步时间 Synced", auto_now=True)

    class Meta:
        verbose_name = "企业标签 Corp tag"
        verbose_name_plural = "企业标签 Corp tags"
        ordering = ["-group_order", "group_id", "-order", "tag_id"]
        constraints = [models.UniqueConstraint(fields=["corp_id", "tag_id"], name="corptag_unique")]

    def __str__(self) -> str:
        return f"{self.group_name}/{self.name}"


class SyncKind(models.TextChoices):
    FULL = "full", "全量同步 Full sync"
    RECONCILE = "reconcile", "夜间对账 Nightly reconcile"


class SyncStatus(models.TextChoices):
    RUNNING = "running", "进行中 Running"
    WAITING = "waiting", "限流等待 Waiting (rate limited)"
    FAILED = "failed", "中断 Failed (resumable)"
    DONE = "done", "完成 Done"


class SyncRun(models.Model):
    """One full sync or nightly reconcile (全量同步 / 夜间对账) of a corp's customers, tags and groups.

    ``phase`` and ``cursor`` are saved in the same transaction as each page's writes, so a run that
    crashed continues exactly where it stopped (``manage.py wecom_sync --resume``) and writes nothing
    twice. ``counts`` says what it found and fixed, ``fixes`` lists the reconcile's repairs one by one;
    ``errors`` keeps the last problems.
    """

    corp_id = models.CharField(max_length=64)
    kind = models.CharField("类型 Kind", max_length=10, choices=SyncKind.choices, default=SyncKind.FULL)
    status = models.CharField("状态 Status", max_length=10, choices=SyncStatus.choices, default=SyncStatus.RUNNING)
    phase = models.CharField("阶段 Phase", max_length=20, default="follow_users")
    cursor = models.JSONField("进度 Cursor", default=dict, blank=True)
    counts = models.JSONField("计数 Counts", default=dict, blank=True)
    errors = models.JSONField("错误 Errors", default=list, blank=True)
    unknown_userids = models.JSONField("未知成员 Unknown userids", default=list, blank=True,
                                       help_text="WeCom members with customer contact who are not in the guide directory")
    fixes = models.JSONField("修复明细 Fixes", default=list, blank=True,
                             help_text="What the reconcile repaired, one entry per fix (the first 500)")
    started_at = models.DateTimeField("开始 Started", auto_now_add=True)
    updated_at = models.DateTimeField("更新 Updated", auto_now=True)
    finished_at = models.DateTimeField("结束 Finished", null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True, help_text="A worker holds the run until then")
    resume_at = models.DateTimeField(null=True, blank=True, help_text="Rate limited: continue after this")

    class Meta:
        verbose_name = "企微同步 WeCom sync run"
        verbose_name_plural = "企微同步 WeCom sync runs"
        ordering = ["-id"]
        indexes = [models.Index(fields=["kind", "status"], name="syncrun_kind_status")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} {self.status} {self.phase}"


class GroupChatRoute(models.Model):
    """Which brand holds a customer group (客户群路由), so a chat event routes without asking WeCom:
    a dismissed group can no longer be read there, and an owner change may move it between brands."""

    corp_id = models.CharField(max_length=64)
    chat_id = models.CharField(max_length=64)
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+")
    owner_userid = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "客户群路由 Group chat route"
        verbose_name_plural = "客户群路由 Group chat routes"
        constraints = [models.UniqueConstraint(fields=["corp_id", "chat_id"], name="groupchatroute_unique")]

    def __str__(self) -> str:
        return f"{self.chat_id} → {self.brand_id}"
