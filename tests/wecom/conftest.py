import time
import uuid

import pytest
from django.conf import settings
from wechatpy.enterprise.crypto import WeChatCrypto


def event_xml(**fields) -> str:
    fields.setdefault("ToUserName", settings.WECOM_CORP_ID)
    fields.setdefault("FromUserName", "sys")
    fields.setdefault("CreateTime", str(int(time.time())))
    fields.setdefault("MsgType", "event")
    inner = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items())
    return f"<xml>{inner}</xml>"


@pytest.fixture
def post_event(client):
    """POST an encrypted event to /wecom/callback/ exactly as WeCom does."""

    def post(*, corp_id=None, tamper=False, **fields):
        crypto = WeChatCrypto(settings.WECOM_TOKEN, settings.WECOM_AES_KEY, corp_id or settings.WECOM_CORP_ID)
        nonce, timestamp = uuid.uuid4().hex[:10], str(int(time.time()))
        envelope = crypto.encrypt_message(event_xml(**fields), nonce, timestamp)
        import xmltodict

        parsed = xmltodict.parse(envelope)["xml"]
        signature = parsed["MsgSignature"] if not tamper else "0" * 40
        body = (f"<xml><ToUserName><![CDATA[{settings.WECOM_CORP_ID}]]></ToUserName>"
                f"<AgentID><![CDATA[{settings.WECOM_AGENT_ID}]]></AgentID>"
                f"<Encrypt><![CDATA[{parsed['Encrypt']}]]></Encrypt></xml>")
        return client.post(f"/wecom/callback/?msg_signature={signature}&timestamp={parsed['TimeStamp']}"
                           f"&nonce={parsed['Nonce']}", data=body, content_type="text/xml", HTTP_HOST="localhost")

    return post
