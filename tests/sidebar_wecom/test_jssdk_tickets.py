"""JS-SDK tickets through the simulator: cached in Redis, fetched once per expiry (WeCom allows 400/h per
corp and 100/h per app), refreshed before they expire, never stampeded by concurrent requests."""

import threading

from django.db import connections

from wecom import jssdk


def _fetches(wecom) -> dict:
    return {"jsapi": len(wecom.calls(endpoint="get_jsapi_ticket")),
            "agent_config": len(wecom.calls(endpoint="ticket/get"))}


def test_tickets_are_fetched_once_and_then_served_from_redis(wecom):
    first = {kind: jssdk.ticket_get(kind) for kind in ("jsapi", "agent_config")}

    again = [{kind: jssdk.ticket_get(kind) for kind in ("jsapi", "agent_config")} for _ in range(5)]

    assert first["jsapi"] != first["agent_config"]
    assert again == [first] * 5
    assert _fetches(wecom) == {"jsapi": 1, "agent_config": 1}


def test_the_config_endpoint_signs_many_pages_with_one_fetch(wecom, wecom_guide, trip):
    guide = wecom_guide()
    browser = trip()
    browser.sign_in(userid=guide.wecom_userid)
    page = f"{browser.platform_url}/sidebar/"

    answers = [browser.get("/sidebar/jssdk/config", params={"url": page}).json() for _ in range(4)]

    ticket = jssdk.ticket_get("jsapi")
    for answer in answers:
        config = answer["config"]
        assert config["signature"] == jssdk.signature(ticket=ticket, noncestr=config["nonceStr"],
                                                      timestamp=config["timestamp"], url=page)
    assert _fetches(wecom) == {"jsapi": 1, "agent_config": 1}


def test_concurrent_requests_fetch_once(wecom):
    wecom.configure(latency_ms={"get_jsapi_ticket": 400})  # a slow WeCom widens the race
    results, start = [], threading.Barrier(8)

    def worker():
        start.wait()
        try:
            results.append(jssdk.ticket_get("jsapi"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(results) == 8 and len(set(results)) == 1
    assert _fetches(wecom)["jsapi"] == 1


def test_a_ticket_is_refreshed_shortly_before_it_expires(wecom, monkeypatch):
    import time

    old = jssdk.ticket_get("jsapi")
    wecom.advance(7200)  # WeCom's ticket expires...
    later = time.time() + 7200 - jssdk.REFRESH_MARGIN_SECONDS + 1  # ...and ours is inside the margin
    monkeypatch.setattr(jssdk, "_now", lambda: later)

    new = jssdk.ticket_get("jsapi")

    assert new != old and jssdk.ticket_get("jsapi") == new
    # two tickets fetched (the access token expired with the clock too: one 42001 + the adapter's retry)
    assert len(wecom.calls(endpoint="get_jsapi_ticket", errcode=0)) == 2


def test_a_failed_refresh_keeps_serving_the_valid_ticket_and_backs_off(wecom, monkeypatch):
    import time

    old = jssdk.ticket_get("jsapi")
    wecom.fail("get_jsapi_ticket", errcode=-1, count=5)
    later = time.time() + 7200 - 60  # due for refresh, not yet expired
    monkeypatch.setattr(jssdk, "_now", lambda: later)

    served = [jssdk.ticket_get("jsapi") for _ in range(3)]

    assert served == [old] * 3
    assert _fetches(wecom)["jsapi"] == 2  # one failed refresh, then the back-off: no retry per request
