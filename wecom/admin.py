"""Mall ops admin for the WeCom integration: the callback inbox, outbound calls (re-drivable),
rejected callbacks, welcome deliveries and brand corps (secrets encrypted at rest)."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from members.identity import encrypt
from tenants.admin import BigTableAdmin, MallAdmin, ReadOnlyMallAdmin, admin_role

from .client import WeComError, api_call_redrive
from .models import ApiCall, CallbackEvent, CallbackRejection, Corp, InboxStatus, WelcomeDelivery


def _pretty(data) -> str:
    return format_html("<pre style='white-space:pre-wrap;max-width:60em'>{}</pre>",
                       json.dumps(data, ensure_ascii=False, indent=2))


@admin.register(CallbackEvent)
class CallbackEventAdmin(BigTableAdmin, ReadOnlyMallAdmin):
    list_display = ("id", "received_at", "event", "change_type", "user_id", "external_userid", "status",
                    "attempts", "receive_count", "brand", "result")
    list_filter = ("status", "event", "change_type")
    search_fields = ("=user_id", "=external_userid", "=chat_id")
    list_select_related = ("brand",)
    readonly_fields = ("payload_pretty",)
    exclude = ("payload",)
    actions = ["reprocess"]

    @admin.display(description="事件内容 Payload")
    def payload_pretty(self, obj):
        return _pretty(obj.payload)

    @admin.action(description="重新处理失败事件 Re-process failed events")
    def reprocess(self, request, queryset):
        if admin_role(request) not in self.write_roles:
            self.message_user(request, "只读账号 Read-only account", messages.ERROR)
            return
        from .tasks import process_callback

        ids = list(queryset.filter(status=InboxStatus.FAILED).values_list("id", flat=True))
        CallbackEvent.objects.filter(pk__in=ids).update(status=InboxStatus.PENDING, attempts=0, next_attempt_at=None)
        for event_id in ids:
            process_callback.delay(event_id)
        self.message_user(request, f"已重新排队 {len(ids)} 个事件 · {len(ids)} events re-queued")


@admin.register(ApiCall)
class ApiCallAdmin(BigTableAdmin, ReadOnlyMallAdmin):
    list_display = ("id", "at", "method", "endpoint", "status", "errcode", "attempts", "duration_ms", "redrivable")
    list_filter = ("status", "endpoint")
    search_fields = ("=endpoint", "=errcode")
    readonly_fields = ("body_pretty",)
    exclude = ("body",)
    actions = ["redrive"]

    @admin.display(description="请求体 Body (no secrets)")
    def body_pretty(self, obj):
        return _pretty(obj.body)

    @admin.action(description="重新发起所选调用 Re-drive selected calls")
    def redrive(self, request, queryset):
        if admin_role(request) not in self.write_roles:
            self.message_user(request, "只读账号 Read-only account", messages.ERROR)
            return
        done = refused = failed = 0
        for call in queryset.exclude(status="ok")[:50]:
            if not call.redrivable:
                refused += 1
                continue
            try:
                api_call_redrive(call)
                done += 1
            except WeComError:
                failed += 1
        self.message_user(request, f"重发成功 {done}，失败 {failed}，不可重发 {refused} · "
                                   f"re-driven {done}, failed again {failed}, not re-drivable {refused}",
                          messages.SUCCESS if not (failed or refused) else messages.WARNING)


@admin.register(CallbackRejection)
class CallbackRejectionAdmin(BigTableAdmin, ReadOnlyMallAdmin):
    list_display = ("id", "at", "method", "reason", "detail", "remote_addr")
    list_filter = ("reason",)


@admin.register(WelcomeDelivery)
class WelcomeDeliveryAdmin(BigTableAdmin, ReadOnlyMallAdmin):
    list_display = ("id", "created_at", "brand", "guide", "member", "status", "errcode", "latency_ms", "coupon_code")
    list_filter = ("status", "brand")
    list_select_related = ("brand", "guide", "member")
    raw_id_fields = ("event", "guide", "member")


class CorpForm(forms.ModelForm):
    secret = forms.CharField(label="客户联系Secret Customer-contact secret", widget=forms.PasswordInput,
                             required=False, help_text="Stored encrypted; leave empty to keep the current one.")
    agent_secret = forms.CharField(label="应用Secret Agent secret", widget=forms.PasswordInput, required=False)
    token = forms.CharField(label="回调Token Callback token", widget=forms.PasswordInput, required=False)
    aes_key = forms.CharField(label="EncodingAESKey", widget=forms.PasswordInput, required=False, min_length=43,
                              max_length=43)

    class Meta:
        model = Corp
        fields = ("corp_id", "name", "brand", "agent_id")

    def clean(self):
        data = super().clean()
        if not self.instance.pk and not data.get("secret"):
            self.add_error("secret", "Required for a new corp. 新企业必须填写。")
        return data

    def save(self, commit=True):
        corp = super().save(commit=False)
        for field, target in (("secret", "secret_encrypted"), ("agent_secret", "agent_secret_encrypted"),
                              ("token", "token_encrypted"), ("aes_key", "aes_key_encrypted")):
            if self.cleaned_data.get(field):
                setattr(corp, target, encrypt(self.cleaned_data[field]))
        if commit:
            corp.save()
        return corp


@admin.register(Corp)
class CorpAdmin(MallAdmin):
    form = CorpForm
    list_display = ("corp_id", "name", "brand", "agent_id", "created_at")
    list_select_related = ("brand",)

    def save_model(self, request, obj, form, change):
        obj.save()  # the encrypted secrets are set by the form, not listed in changed_data
