"""WeCom app-message summaries per share: at most one per window, only when the numbers changed,
sent through the bundled simulator over real HTTP."""

from __future__ import annotations

import pytest

from incentives import attribution, summary
from incentives.feed import redis_client


@pytest.fixture
def sim(settings):
    from scrm.health import _redis
    from wecom.simulator import SimConfig, start_in_thread
    from wecom.simulator.client import SimulatorControl

    config = SimConfig(port=0, callback_url="", frozen=True, corp_id=settings.WECOM_CORP_ID,
                       corp_secret=settings.WECOM_SECRET, agent_id=settings.WECOM_AGENT_ID,
                       agent_secret=settings.WECOM_AGENT_SECRET, token=settings.WECOM_TOKEN,
                       aes_key=settings.WECOM_AES_KEY)
    base_url, server = start_in_thread(config)
    settings.WECOM_API_BASE = server.api_base_url
    for key in _redis().scan_iter("scrm:wecom:*"):
        _redis().delete(key)
    try:
        yield SimulatorControl(base_url)
    finally:
        server.stop()


@pytest.fixture
def shared(brand_a, make_guide, link_for, sim, clean_redis):
    guide = make_guide(brand_a, name="陈小美")
    sim.member(guide.wecom_userid, name=guide.name, silent=True)
    for key in clean_redis.scan_iter("scrm:share-msg:*"):
        clean_redis.delete(key)
    return guide, link_for(guide)


def _like(link, n, capture):
    with capture(execute=True):
        attribution.share_event_ingest(event_id=f"like-{link.pk}-{n}", kind="like", share_code=link.code,
                                       visitor=f"v{n}")


def _messages(sim, guide):
    return [m for m in sim.welcome_messages(userid=guide.wecom_userid) if m["kind"] == "app_message"]


def test_one_summary_per_window_with_the_numbers(shared, sim, django_capture_on_commit_callbacks):
    guide, link = shared

    _like(link, 1, django_capture_on_commit_callbacks)  # eager Celery: the end-of-window send runs now
    _like(link, 2, django_capture_on_commit_callbacks)  # same window: nothing scheduled

    messages = _messages(sim, guide)
    assert len(messages) == 1
    assert "1 人点赞" in messages[0]["text"]["content"] and "小黑瓶" in messages[0]["text"]["content"]


def test_a_new_window_sends_only_when_something_changed(shared, sim, django_capture_on_commit_callbacks):
    guide, link = shared
    _like(link, 1, django_capture_on_commit_callbacks)
    redis_client().delete(summary._window_key(link.pk))  # the window ends

    unchanged = summary.share_summary_send(link_id=link.pk)
    _like(link, 2, django_capture_on_commit_callbacks)

    assert unchanged is False
    assert ["1 人点赞" in m["text"]["content"] for m in _messages(sim, guide)] == [True, False]
    assert "2 人点赞" in _messages(sim, guide)[-1]["text"]["content"]


def test_no_summary_for_a_guide_who_left(shared, sim):
    from guides.models import Guide

    guide, link = shared
    Guide.objects.filter(pk=guide.pk).update(status="resigned", resigned_on="2026-11-01")

    assert summary.share_summary_send(link_id=link.pk) is False
    assert _messages(sim, guide) == []


def test_simulator_refuses_app_messages_with_the_contact_token(shared, settings):
    from wecom.client import WeComError, mall_client

    with pytest.raises(WeComError) as error:
        mall_client().message.send_text(settings.WECOM_AGENT_ID, [shared[0].wecom_userid], "hi")
    assert error.value.errcode == 48002


def test_a_batch_schedules_only_the_shares_without_a_window_in_one_command(clean_redis, monkeypatch, settings):
    from incentives import tasks

    sent = []
    monkeypatch.setattr(tasks.share_summaries_send, "apply_async", lambda args, countdown: sent.append(args[0]))
    settings.SHARE_SUMMARY_WINDOW_SECONDS = 600
    clean_redis.delete(*(summary._window_key(n) for n in (1, 2, 3)))
    clean_redis.set(summary._window_key(2), 1, ex=600)  # share 2 already has a summary coming

    assert summary.summaries_schedule(link_ids=[3, 1, 2, 3]) == 2
    assert summary.summaries_schedule(link_ids=[1, 3]) == 0  # same window: nothing new
    assert sent == [[1, 3]]
    assert 590 < clean_redis.ttl(summary._window_key(1)) <= 600


def test_a_batch_reaches_every_guides_feed_in_one_command(clean_redis, monkeypatch):
    from incentives import feed

    monkeypatch.setattr(feed, "_schedule_summaries", lambda link_ids: None)
    clean_redis.set(feed._version_key(7), 41)

    feed.publish_many(guide_ids=[7, 8], line={"event": "opened"})

    assert (feed.version(7), feed.version(8)) == (42, 1)
    assert [line["event"] for line in feed.recent(8)] == ["opened"]
    for _ in range(feed.RECENT + 5):
        feed.publish_many(guide_ids=[8], line={"event": "liked"})
    assert clean_redis.llen(feed._events_key(8)) == feed.RECENT
