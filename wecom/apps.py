from django.apps import AppConfig


class WecomConfig(AppConfig):
    name = "wecom"
    verbose_name = "企业微信 WeCom"
