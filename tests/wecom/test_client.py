"""The adapter against the simulator over real HTTP: tokens, bounded retry, rate limits, call log."""

import threading

import pytest

from wecom.client import RateLimited, WeComClient, WeComError, _redis, mall_client
from wecom.models import ApiCall


@pytest.fixture
def sim(settings):
    from scrm.health import _redis
    from wecom.simulator import SimConfig, start_in_thread
    from wecom.simulator.client import SimulatorControl

    base_url, server = start_in_thread(SimConfig(
        port=0, corp_id=settings.WECOM_CORP_ID, corp_secret=settings.WECOM_SECRET, agent_id=settings.WECOM_AGENT_ID,
        agent_secret=settings.WECOM_AGENT_SECRET, token=settings.WECOM_TOKEN, aes_key=settings.WECOM_AES_KEY))
    settings.WECOM_API_BASE = server.api_base_url
    for key in _redis().scan_iter("scrm:wecom:*"):
        _redis().delete(key)
    yield SimulatorControl(base_url)
    server.stop()


def test_gettoken_comes_from_the_configured_base_and_is_shared(sim, db, settings):
    mall_client().get("externalcontact/get_follow_user_list")
    another_process = WeComClient(corp_id=settings.WECOM_CORP_ID, secret=settings.WECOM_SECRET,
                                  api_base=settings.WECOM_API_BASE, redis_client=_redis(settings.REDIS_URL))
    another_process.get("externalcontact/get_follow_user_list")  # its own client: the same token, from Redis
    assert len(sim.calls(endpoint="gettoken")) == 1


def test_a_thread_reuses_its_client_and_connection_until_a_setting_changes(sim, db, settings):
    client = mall_client()
    assert mall_client() is client and mall_client(agent=True) is not client
    other_thread = []
    worker = threading.Thread(target=lambda: other_thread.append(mall_client()))
    worker.start()
    worker.join()
    assert other_thread[0] is not client  # requests sessions are not shared between threads
    settings.WECOM_API_BASE = sim.base_url + "/elsewhere/"
    assert mall_client() is not client and mall_client().API_BASE_URL.endswith("/elsewhere/")


def test_a_token_wecom_rejects_is_refreshed_once(sim, db):
    mall_client().get("externalcontact/get_follow_user_list")
    sim.invalidate_tokens()
    mall_client().get("externalcontact/get_follow_user_list")
    call = ApiCall.objects.filter(endpoint="externalcontact/get_follow_user_list").order_by("-id").first()
    assert (call.status, call.errcode, call.attempts) == ("ok", 0, 2)
    assert len(sim.calls(endpoint="gettoken")) == 2


def test_retry_is_bounded_when_wecom_keeps_rejecting_the_token(sim, db):
    sim.fail("externalcontact/get_follow_user_list", 40014, count=None)
    with pytest.raises(WeComError) as error:
        mall_client().get("externalcontact/get_follow_user_list")
    assert error.value.errcode == 40014
    assert len(sim.calls(endpoint="externalcontact/get_follow_user_list")) == 2  # wechatpy alone: forever


@pytest.mark.parametrize("errcode", [45009, 45033])
def test_rate_limits_raise_for_the_caller_to_back_off(sim, db, errcode):
    sim.fail("externalcontact/get_follow_user_list", errcode)
    with pytest.raises(RateLimited):
        mall_client().get("externalcontact/get_follow_user_list")
    assert ApiCall.objects.get(endpoint="externalcontact/get_follow_user_list").status == "rate_limited"


def test_calls_are_logged_without_secrets_or_tokens(sim, db):
    sim.member("g-log", name="导购")
    mall_client().batch_get_by_user(["g-log"])
    for call in ApiCall.objects.all():
        text = f"{call.params} {call.body}"
        assert "sim-contact-secret" not in text
        assert "access_token" not in call.params or call.params["access_token"] == "***"
    assert ApiCall.objects.get(endpoint="externalcontact/batch/get_by_user").body["userid_list"] == ["g-log"]


def test_wrong_secret_is_an_error_not_a_loop(sim, db, settings):
    settings.WECOM_SECRET = "wrong"
    with pytest.raises(WeComError) as error:
        mall_client().get("externalcontact/get_follow_user_list")
    assert error.value.errcode == 40001
    assert len(sim.calls(endpoint="gettoken")) == 2  # first try and the one bounded retry
