"""The public end of a guide's exclusive link: /s/<code> on the mall host.

Opening it counts a visit (once per visitor and day), then redirects to the product / page /
coupon / live stream with a signed ``scrm_share`` token in the URL and a cookie: the mall's
mini-program, H5 shop or POS passes the token back with the order, and the order is attributed
to the guide.
"""

from __future__ import annotations

from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import attribution
from .models import AttributionSettings, ShareActionKind

YEAR = 365 * 24 * 3600


@require_GET
@never_cache
def share_open(request, code: str):
    link = attribution.share_link_resolve(code)
    if link is None:
        return render(request, "errors/404.html", status=404,
                      context={"message": "链接无效或已失效 · This link is not valid."})
    visitor = request.COOKIES.get(attribution.VISITOR_COOKIE, "")
    if not (8 <= len(visitor) <= 32 and visitor.replace("-", "").replace("_", "").isalnum()):
        visitor = attribution.new_visitor_id()
    attribution.share_action_record(link=link, kind=ShareActionKind.OPEN, visitor=f"v:{visitor}")
    token = attribution.share_token_make(link)
    response = HttpResponseRedirect(attribution.target_with_token(link, token))
    response.set_cookie(attribution.VISITOR_COOKIE, visitor, max_age=YEAR, httponly=True, samesite="Lax")
    days = AttributionSettings.current().click_window_days
    response.set_cookie(attribution.SHARE_COOKIE, token, max_age=days * 24 * 3600, httponly=True, samesite="Lax")
    return response
