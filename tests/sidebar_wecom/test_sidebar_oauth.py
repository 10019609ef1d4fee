"""WeCom OAuth for the guide sidebar, through the simulator over real HTTP.

/sidebar/ -> the simulator's authorize page (the real one: open.weixin.qq.com) -> our callback with
code and state -> auth/getuserinfo with the app's secret -> a guide session -> my customers.
No django_db mark: these tests commit (the live server and the simulator use other connections).
"""

from urllib.parse import parse_qs, urlsplit

import pytest

from guides.models import Guide
from tenants.models import Brand


def _refusal(response) -> str:
    assert response.status_code == 403, response.status_code
    body = response.text
    return body.split('data-code="', 1)[1].split('"', 1)[0]


def test_round_trip_signs_the_guide_in_and_shows_my_customers(wecom, wecom_guide, scanned, trip):
    guide = wecom_guide()
    scanned(guide, "李雷")
    browser = trip()

    authorize = browser.authorize_url()
    back = browser.code_from_wecom(authorize, userid=guide.wecom_userid)
    response = browser.callback(back)

    query = parse_qs(urlsplit(back).query)
    assert authorize.startswith(f"{wecom.base_url}/connect/oauth2/authorize?appid=")
    assert urlsplit(back).path == "/sidebar/oauth/callback/" and len(query["code"][0]) > 20
    assert response.status_code == 302 and response.headers["Location"] == "/sidebar/"
    home = browser.get("/sidebar/")
    assert home.status_code == 200
    assert "陈小美" in home.text and "李雷" in home.text and "我的客户" in home.text
    assert len(wecom.calls(endpoint="auth/getuserinfo")) == 1


def test_after_sign_in_the_guide_lands_on_the_page_they_asked_for(wecom, wecom_guide, scanned, trip):
    from members.models import Member, MemberExternalId

    guide = wecom_guide()
    euid = scanned(guide, "韩梅梅")
    code = Member.objects.get(pk=MemberExternalId.objects.get(external_userid=euid).member_id).code
    browser = trip()
    start = browser.get(f"/sidebar/customers/{code}/", allow_redirects=False)

    response = browser.callback(browser.code_from_wecom(start.headers["Location"], userid=guide.wecom_userid))

    assert response.headers["Location"] == f"/sidebar/customers/{code}/"
    assert "韩梅梅" in browser.get(response.headers["Location"]).text


def test_a_tampered_state_is_refused(wecom, wecom_guide, trip):
    guide = wecom_guide()
    browser = trip()
    back = browser.code_from_wecom(browser.authorize_url(), userid=guide.wecom_userid)

    response = browser.callback(back.replace("state=", "state=X"))

    assert _refusal(response) == "bad_state"
    assert wecom.calls(endpoint="auth/getuserinfo") == []  # refused before the code was spent
    assert browser.get("/sidebar/", allow_redirects=False).status_code == 302  # still signed out


def test_a_state_from_another_browser_is_refused(wecom, wecom_guide, trip):
    guide = wecom_guide()
    victim, attacker = trip(), trip()
    back = attacker.code_from_wecom(attacker.authorize_url(), userid=guide.wecom_userid)
    victim.authorize_url()  # the victim has a sign-in under way too, with its own state

    assert _refusal(victim.callback(back)) == "bad_state"


def test_a_replayed_callback_is_refused(wecom, wecom_guide, trip):
    guide = wecom_guide()
    browser = trip()
    back = browser.code_from_wecom(browser.authorize_url(), userid=guide.wecom_userid)
    assert browser.callback(back).status_code == 302
    browser.session.cookies.clear()

    assert _refusal(browser.callback(back)) == "bad_state"


def test_a_used_code_is_refused_by_wecom(wecom, wecom_guide, trip):
    guide = wecom_guide()
    first = trip()
    used = parse_qs(urlsplit(first.code_from_wecom(first.authorize_url(), userid=guide.wecom_userid)).query)
    first.callback(f"{first.platform_url}/sidebar/oauth/callback/?code={used['code'][0]}&state={used['state'][0]}")
    second = trip()
    state = parse_qs(urlsplit(second.authorize_url().partition("#")[0]).query)["state"][0]

    response = second.callback(f"{second.platform_url}/sidebar/oauth/callback/?code={used['code'][0]}&state={state}")

    assert _refusal(response) == "invalid_code"
    assert "授权码无效、已使用或已过期" in response.text
    assert [c["errcode"] for c in wecom.calls(endpoint="auth/getuserinfo")] == [0, 40029]


def test_an_expired_code_is_refused(wecom, wecom_guide, trip):
    guide = wecom_guide()
    browser = trip()
    back = browser.code_from_wecom(browser.authorize_url(), userid=guide.wecom_userid)
    wecom.advance(301)  # codes live 5 minutes

    assert _refusal(browser.callback(back)) == "invalid_code"


def test_a_corp_member_who_is_not_a_guide_is_refused(wecom, trip):
    wecom.member("cashier-01", name="收银员", silent=True)

    response = trip().sign_in(userid="cashier-01")

    assert _refusal(response) == "not_a_guide"
    assert "不在导购名单中" in response.text and "not in the guide directory" in response.text


def test_a_resigned_guide_is_refused(wecom, wecom_guide, trip):
    import datetime as dt

    guide = wecom_guide()
    Guide.objects.filter(pk=guide.pk).update(status="resigned", resigned_on=dt.date(2026, 1, 1))

    response = trip().sign_in(userid=guide.wecom_userid)

    assert _refusal(response) == "guide_resigned" and "您已离职" in response.text


def test_a_guide_of_a_suspended_brand_is_refused(wecom, wecom_guide, trip):
    guide = wecom_guide()
    Brand.objects.filter(pk=guide.brand_id).update(status="suspended")
    try:
        response = trip().sign_in(userid=guide.wecom_userid)
    finally:
        Brand.objects.filter(pk=guide.brand_id).update(status="active")  # a session brand: put it back

    assert _refusal(response) == "brand_suspended"


@pytest.mark.parametrize("who", ["openid", "external_userid"])
def test_someone_who_is_not_a_corp_member_is_refused(wecom, trip, who):
    identity = {"openid": "oSIMwechatuser000000000000001"} if who == "openid" else {
        "external_userid": wecom.customer("路人甲")}

    response = trip().sign_in(**identity)

    assert _refusal(response) == "not_a_member"
    assert "导购" in response.text and "for the corp" in response.text
