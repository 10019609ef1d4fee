"""The sidebar's WeCom side without a network: the OAuth redirect, state checks, JS-SDK signing from
cached tickets, and the chat contact -> customer resolution (a guide's own customers only).
The round trips through the simulator over real HTTP are in tests/sidebar_wecom/."""

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from wecom import jssdk

# reference §9, DOC:96909: the official example
OFFICIAL = dict(ticket="sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg",
                noncestr="Wm3WZYTPz0wzccnW", timestamp=1414587457, url="http://mp.weixin.qq.com?params=value")


def test_signature_matches_the_official_example():
    assert jssdk.signature(**OFFICIAL) == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"


def test_signature_ignores_the_fragment():
    with_fragment = {**OFFICIAL, "url": OFFICIAL["url"] + "#/customers/1"}

    assert jssdk.signature(**with_fragment) == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"


def test_sidebar_without_session_goes_to_wecom_authorize(db, mall_client, settings):
    settings.WECOM_OAUTH_AUTHORIZE_URL = "http://sim.example/connect/oauth2/authorize"

    response = mall_client.get("/sidebar/customers/ABC123/")

    location = response["Location"]
    parts = urlsplit(location)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert response.status_code == 302
    assert location.startswith("http://sim.example/connect/oauth2/authorize?appid=")
    assert list(query) == ["appid", "redirect_uri", "response_type", "scope", "state", "agentid"]
    assert query["appid"] == settings.WECOM_CORP_ID and query["agentid"] == settings.WECOM_AGENT_ID
    assert query["redirect_uri"] == "http://localhost/sidebar/oauth/callback/"
    assert (query["response_type"], query["scope"]) == ("code", "snsapi_base")
    assert re.fullmatch(r"[A-Za-z0-9]{32}", query["state"])
    assert parts.fragment == "wechat_redirect"
    assert mall_client.session["sidebar_oauth_pending"] == [[query["state"], "/sidebar/customers/ABC123/"]]


def test_each_visit_gets_its_own_state(db, mall_client):
    first = mall_client.get("/sidebar/")["Location"]
    second = mall_client.get("/sidebar/")["Location"]

    states = [parse_qs(urlsplit(url).query)["state"][0] for url in (first, second)]
    assert states[0] != states[1]
    assert [p[0] for p in mall_client.session["sidebar_oauth_pending"]] == states


@pytest.mark.parametrize("next_path", ["https://evil.example/", "//evil.example/sidebar/", "/admin/",
                                       "/sidebar/oauth/callback/?code=x"])
def test_only_sidebar_paths_are_remembered_for_after_sign_in(db, mall_client, next_path):
    mall_client.get("/sidebar/oauth/start/", {"next": next_path})

    assert mall_client.session["sidebar_oauth_pending"][0][1] == "/sidebar/"


@pytest.mark.parametrize("query", [{}, {"code": "abc"}, {"code": "abc", "state": "not-the-one"},
                                   {"code": "abc", "state": ""}])
def test_callback_without_our_state_is_refused_before_asking_wecom(db, mall_client, query):
    mall_client.get("/sidebar/")  # a pending state exists, but not the one sent back

    response = mall_client.get("/sidebar/oauth/callback/", query)

    body = response.content.decode()
    assert response.status_code == 403
    assert response.context["code"] == "bad_state"  # WeCom (nothing listens in tests) was never called
    assert "登录请求已失效" in body and "This sign-in request is invalid" in body
    assert "sidebar_guide_id" not in mall_client.session


def test_refusal_page_offers_the_demo_picker_only_in_demo_mode(db, mall_client, settings):
    settings.DEMO_MODE = False

    body = mall_client.get("/sidebar/oauth/callback/", {"code": "x", "state": "y"}).content.decode()

    assert "重新登录 · Try again" in body and "演示：选择导购" not in body


def test_login_page_offers_wecom_sign_in_and_the_demo_picker(db, mall_client):
    body = mall_client.get("/sidebar/login/").content.decode()

    assert "通过企业微信登录 · Sign in with WeCom" in body and 'href="/sidebar/oauth/start/"' in body
    assert "演示：选择导购 Demo: pick a guide" in body


# --------------------------------------------------------------------------- JS-SDK config endpoint

@pytest.fixture
def cached_tickets(settings):
    """Tickets already in Redis (as if fetched): no WeCom call is needed to sign."""
    from wecom.client import _redis

    client = _redis(settings.REDIS_URL)
    keys = {kind: jssdk._key(kind) for kind in ("jsapi", "agent_config")}
    tickets = {"jsapi": "corp-ticket-0001", "agent_config": "app-ticket-0001"}
    for kind, key in keys.items():
        client.set(key, json.dumps({"ticket": tickets[kind], "expires_at": jssdk._now() + 7000}), ex=7000)
    yield tickets
    for key in keys.values():
        client.delete(key, key + ":lock", key + ":failed")


def test_jssdk_config_signs_the_page_for_config_and_agent_config(sidebar_as, brand_a, make_guide, cached_tickets,
                                                                 settings):
    client = sidebar_as(make_guide(brand_a))
    url = "http://localhost/sidebar/customers/ABC123/?from=chat#top"

    response = client.get("/sidebar/jssdk/config", {"url": url})

    data = response.json()
    page = "http://localhost/sidebar/customers/ABC123/?from=chat"
    assert response.status_code == 200
    assert (data["corpid"], data["agentid"], data["url"]) == (settings.WECOM_CORP_ID, settings.WECOM_AGENT_ID, page)
    assert data["jsApiList"] == ["getContext", "getCurExternalContact", "getCurExternalChat", "sendChatMessage"]
    config, agent = data["config"], data["agentConfig"]
    assert config["appId"] == settings.WECOM_CORP_ID and agent["corpid"] == settings.WECOM_CORP_ID
    assert config["signature"] == jssdk.signature(ticket="corp-ticket-0001", noncestr=config["nonceStr"],
                                                  timestamp=config["timestamp"], url=page)
    assert agent["signature"] == jssdk.signature(ticket="app-ticket-0001", noncestr=agent["nonceStr"],
                                                 timestamp=agent["timestamp"], url=page)
    assert config["nonceStr"] != agent["nonceStr"]


@pytest.mark.parametrize("url", ["", "javascript:alert(1)", "http://evil.example/sidebar/", "/sidebar/",
                                 "http://localhost/admin/", "http://localhost" + "/sidebar/x" * 300])
def test_jssdk_config_signs_only_this_hosts_pages(sidebar_as, brand_a, make_guide, cached_tickets, url):
    client = sidebar_as(make_guide(brand_a))

    response = client.get("/sidebar/jssdk/config", {"url": url})

    assert response.status_code == 400 and response.json()["code"] == "invalid_url"


def test_jssdk_config_needs_a_signed_in_guide(db, mall_client):
    response = mall_client.get("/sidebar/jssdk/config", {"url": "http://localhost/sidebar/"})

    assert response.status_code == 401
    assert set(response.json()) == {"code", "message", "fields"}


def test_jssdk_config_when_wecom_is_unreachable(sidebar_as, brand_a, make_guide, settings):
    from wecom.client import _redis

    client = sidebar_as(make_guide(brand_a))
    for kind in ("jsapi", "agent_config"):
        _redis(settings.REDIS_URL).delete(jssdk._key(kind), jssdk._key(kind) + ":failed")

    response = client.get("/sidebar/jssdk/config", {"url": "http://localhost/sidebar/"})

    assert response.status_code == 503 and response.json()["code"] == "wecom_unavailable"
    for kind in ("jsapi", "agent_config"):
        _redis(settings.REDIS_URL).delete(jssdk._key(kind) + ":failed")


# --------------------------------------------------------------------------- current chat contact

def _contact(client, external_userid):
    return client.get("/sidebar/api/contact/", {"external_userid": external_userid})


def test_current_chat_contact_resolves_to_my_customer(sidebar_as, brand_a, make_guide, customer, settings):
    me = make_guide(brand_a)
    mine = customer(me, name="张三", phone="13800138000", external_userid="wmMINE0001",
                    corp_id=settings.WECOM_CORP_ID)

    response = _contact(sidebar_as(me), "wmMINE0001")

    assert response.status_code == 200
    assert response.json() == {"external_userid": "wmMINE0001", "code": mine.code, "name": "张三",
                               "url": f"/sidebar/customers/{mine.code}/"}


@pytest.mark.parametrize("owner", ["colleague", "other_brand", "nobody"])
def test_current_chat_contact_of_someone_else_is_404(sidebar_as, brand_a, brand_b, make_guide, customer, settings,
                                                     owner):
    me = make_guide(brand_a)
    owners = {"colleague": make_guide(brand_a), "other_brand": make_guide(brand_b)}
    if owner in owners:
        customer(owners[owner], name="王五", phone="13900139000", external_userid="wmTHEIRS01",
                 corp_id=settings.WECOM_CORP_ID)

    response = _contact(sidebar_as(me), "wmTHEIRS01")

    assert response.status_code == 404
    assert response.json()["code"] == "customer_not_found" and "王五" not in response.content.decode()


def test_current_chat_contact_of_another_corp_is_404(sidebar_as, brand_a, make_guide, customer):
    me = make_guide(brand_a)
    customer(me, name="张三", phone="13800138000", external_userid="wmOTHERCORP", corp_id="ww-some-brand-corp")

    assert _contact(sidebar_as(me), "wmOTHERCORP").status_code == 404


def test_a_customer_ended_relationship_no_longer_resolves(sidebar_as, brand_a, make_guide, customer, settings):
    from guides.services import relationship_end

    me = make_guide(brand_a)
    mine = customer(me, name="张三", phone="13800138000", external_userid="wmGONE0001",
                    corp_id=settings.WECOM_CORP_ID)
    client = sidebar_as(me)
    relationship_end(guide=me, member_id=mine.pk, reason="deleted_by_customer")

    assert _contact(client, "wmGONE0001").status_code == 404


def test_customer_page_has_the_send_card_with_a_greeting(sidebar_as, brand_a, make_guide, customer, settings):
    me = make_guide(brand_a, name="小美")
    mine = customer(me, name="张三", phone="13800138000", external_userid="wmMINE0002",
                    corp_id=settings.WECOM_CORP_ID)

    response = sidebar_as(me).get(f"/sidebar/customers/{mine.code}/")

    body = response.content.decode()
    assert "发送 Send" in body and 'data-testid="send-button"' in body
    assert response.context["greeting"].startswith("张三您好！我是兰蔻的导购小美。")
    assert '<script id="sb-member-euids" type="application/json">["wmMINE0002"]</script>' in body
    assert 'id="sb-demo"' in body and "演示 Demo" in body and "/static/scrm/sidebar.js" in body


def test_without_demo_mode_there_is_no_demo_bar(sidebar_as, brand_a, make_guide, customer, settings):
    me = make_guide(brand_a)
    mine = customer(me, name="张三", phone="13800138000")
    client = sidebar_as(me)
    settings.DEMO_MODE = False

    body = client.get(f"/sidebar/customers/{mine.code}/").content.decode()

    assert 'id="sb-demo"' not in body and 'data-demo="0"' in body
    assert client.get("/sidebar/api/demo-chats/").status_code == 404


def test_demo_chat_list_has_only_my_customers_with_a_wecom_id(sidebar_as, brand_a, make_guide, customer, settings):
    me = make_guide(brand_a)
    mine = customer(me, name="张三", phone="13800138000", external_userid="wmMINE0003",
                    corp_id=settings.WECOM_CORP_ID)
    customer(me, name="无企微", phone="13700137000")
    customer(make_guide(brand_a), name="王五", phone="13900139000", external_userid="wmTHEIRS02",
             corp_id=settings.WECOM_CORP_ID)

    response = sidebar_as(me).get("/sidebar/api/demo-chats/")

    assert response.json() == {"customers": [{"external_userid": "wmMINE0003", "name": "张三", "code": mine.code}],
                               "groups": []}


def test_demo_chat_list_has_the_live_groups_i_own_and_no_one_elses(sidebar_as, brand_a, brand_b, make_guide,
                                                                    settings):
    from django_tenants.utils import schema_context

    from guides.brand.models import CustomerGroup

    me, colleague, other_brand = make_guide(brand_a), make_guide(brand_a), make_guide(brand_b)
    with schema_context(brand_a.schema_name):
        CustomerGroup.objects.create(chat_id="wr-demo-mine", name="我的群", owner=me, customer_count=12)
        CustomerGroup.objects.create(chat_id="wr-demo-gone", name="已解散", owner=me, status="dismissed")
        CustomerGroup.objects.create(chat_id="wr-demo-theirs", name="同事的群", owner=colleague)
    with schema_context(brand_b.schema_name):
        CustomerGroup.objects.create(chat_id="wr-demo-nike", name="耐克的群", owner=other_brand)

    response = sidebar_as(me).get("/sidebar/api/demo-chats/")

    assert response.json()["groups"] == [{"chat_id": "wr-demo-mine", "name": "我的群", "customers": 12}]
