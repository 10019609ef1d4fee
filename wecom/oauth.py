"""WeCom OAuth2 (网页授权) for pages opened inside WeCom, e.g. the guide sidebar.

The page sends the browser to WeCom's authorize URL; WeCom sends it back with ``code`` and our
``state``; the server exchanges the code (single use, 5 minutes) with ``auth/getuserinfo`` using
the self-built app's secret. A corp member comes back as ``userid``; anyone else (a WeChat user,
a customer) as ``openid`` / ``external_userid``.
Docs: https://developer.work.weixin.qq.com/document/path/96441 (authorize URL) and /96442
(getuserinfo); reference §9.
"""

from __future__ import annotations

import logging
import secrets
import string
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings

from .client import WeComError, mall_client

logger = logging.getLogger(__name__)

STATE_LENGTH = 32  # WeCom takes a-zA-Z0-9, at most 128 bytes


class OAuthRefused(Exception):
    """Sign-in through WeCom did not identify a corp member. ``code`` is machine-readable."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def new_state() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(STATE_LENGTH))


def authorize_url(*, redirect_uri: str, state: str) -> str:
    """WeCom's authorize URL (silent ``snsapi_base``: just who the member is)."""
    base = settings.WECOM_OAUTH_AUTHORIZE_URL
    query = urlencode({"appid": settings.WECOM_CORP_ID, "redirect_uri": redirect_uri, "response_type": "code",
                       "scope": "snsapi_base", "state": state, "agentid": settings.WECOM_AGENT_ID})
    return f"{base}{'&' if '?' in base else '?'}{query}#wechat_redirect"


@dataclass(frozen=True)
class OAuthUser:
    userid: str = ""
    openid: str = ""
    external_userid: str = ""


def oauth_user_get(*, code: str) -> OAuthUser:
    """Exchange the code for the WeCom identity. Raises OAuthRefused for an invalid, used or expired code."""
    if not code or len(code) > 512:
        raise OAuthRefused("invalid_code", "授权码无效，请重新打开侧边栏。 · The sign-in code is invalid; reopen the sidebar.")
    try:
        data = mall_client(agent=True).auth_getuserinfo(code)
    except WeComError as exc:
        logger.info("wecom.oauth_refused", extra={"errcode": exc.errcode})
        if exc.errcode in (40029, 41008):
            raise OAuthRefused("invalid_code", "授权码无效、已使用或已过期，请重新打开侧边栏。 · The sign-in code is "
                               "invalid, already used or expired; reopen the sidebar.") from exc
        raise OAuthRefused("wecom_unavailable", "暂时无法连接企业微信，请稍后再试。 · WeCom could not be reached; "
                           "please try again shortly.") from exc
    # auth/getuserinfo answers "userid"; the legacy user/getuserinfo "UserId" (reference §9)
    return OAuthUser(userid=str(data.get("userid") or data.get("UserId") or ""),
                     openid=str(data.get("openid") or data.get("OpenId") or ""),
                     external_userid=str(data.get("external_userid") or ""))
