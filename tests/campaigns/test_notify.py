"""Publishing tells the audience at once by WeCom app message (应用消息), 1000 guides per message/send, through
the bundled simulator over real HTTP; a re-run, a second publish or a retried rate limit messages nobody twice."""

from __future__ import annotations

import pytest

from tasks.mall import services, tasks
from tasks.mall.models import CampaignNotice
from wecom.models import ApiCall

pytestmark = pytest.mark.django_db


@pytest.fixture
def guides_in_wecom(world, sim):
    for guide in (world.ana, world.amy, world.nick, world.floater):
        sim.member(guide.wecom_userid, name=guide.name, silent=True)
    return world


def _app_messages(sim):
    return [m for m in sim.welcome_messages() if m["kind"] == "app_message"]


def _publish(make_campaign, capture, **settings):
    draft = make_campaign(publish=False, **settings)
    with capture(execute=True):  # after commit, the notify job runs (eager Celery in tests)
        services.campaign_publish(owner=None, campaign_id=draft.pk, actor="test")
    return draft


def test_publishing_messages_every_guide_in_the_audience_once(guides_in_wecom, sim, make_campaign,
                                                              django_capture_on_commit_callbacks):
    world = guides_in_wecom
    campaign = _publish(make_campaign, django_capture_on_commit_callbacks, title="雨天线上销售赛")

    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_publish(owner=None, campaign_id=campaign.pk, actor="test")  # published already
    tasks.campaign_notify(campaign.pk)  # the job again (a redelivery)
    tasks.campaigns_live_dispatch()  # and the 5-minute sweep

    messages = _app_messages(sim)
    assert sorted(m["userid"] for m in messages) == sorted(
        g.wecom_userid for g in (world.ana, world.amy, world.nick, world.floater))
    assert "【活动任务 Campaign】雨天线上销售赛" in messages[0]["text"]["content"]
    assert "/sidebar/campaigns/" in messages[0]["text"]["content"]
    assert ApiCall.objects.filter(endpoint="message/send").count() == 1
    notice = CampaignNotice.objects.get(campaign=campaign)
    assert (notice.status, notice.recipients, notice.invalid_users) == ("sent", 4, 0)


def test_big_audiences_go_in_chunks_and_new_guides_get_theirs_later(guides_in_wecom, sim, make_campaign, monkeypatch,
                                                                    django_capture_on_commit_callbacks, brand_a):
    from guides.models import Guide

    monkeypatch.setattr(services, "NOTICE_CHUNK", 3)
    world = guides_in_wecom
    campaign = _publish(make_campaign, django_capture_on_commit_callbacks, audience="brands",
                        brand_ids=[brand_a.pk, world.nick.brand_id])
    newcomer = Guide.objects.create(wecom_userid="cg-new", name="新同事", brand=brand_a, counter=world.a_xuhui,
                                    hired_on=world.ana.hired_on)
    sim.member(newcomer.wecom_userid, name=newcomer.name, silent=True)

    services.campaign_notify(campaign_id=campaign.pk)
    services.campaign_notify(campaign_id=campaign.pk)

    calls = ApiCall.objects.filter(endpoint="message/send").order_by("pk")
    assert [len(call.body["touser"].split("|")) for call in calls] == [3, 1, 1]
    assert sorted(m["userid"] for m in _app_messages(sim)) == sorted(
        g.wecom_userid for g in (world.ana, world.amy, world.nick, world.floater, newcomer))
    assert list(CampaignNotice.objects.filter(campaign=campaign).values_list("seq", "recipients", "status")) == [
        (1, 3, "sent"), (2, 1, "sent"), (3, 1, "sent")]


def test_a_rate_limited_chunk_is_sent_again_and_only_it(guides_in_wecom, sim, make_campaign, monkeypatch,
                                                        django_capture_on_commit_callbacks):
    from celery.exceptions import Retry

    monkeypatch.setattr(services, "NOTICE_CHUNK", 2)
    sim.fail("message/send", 45009, count=1)
    campaign = make_campaign(publish=False)

    with pytest.raises(Retry), django_capture_on_commit_callbacks(execute=True):
        services.campaign_publish(owner=None, campaign_id=campaign.pk, actor="test")  # the job backs off
    waiting = list(CampaignNotice.objects.filter(campaign=campaign).values_list("seq", "status"))
    tasks.campaign_notify(campaign.pk)  # the retry, later

    statuses = list(ApiCall.objects.filter(endpoint="message/send").order_by("pk").values_list("status", flat=True))
    assert waiting == [(1, "retry")]
    assert statuses == ["rate_limited", "ok", "ok"]
    assert len(_app_messages(sim)) == 4  # four guides, each once
    assert set(CampaignNotice.objects.filter(campaign=campaign).values_list("status", flat=True)) == {"sent"}


def test_a_message_wecom_refused_is_recorded_and_not_repeated(guides_in_wecom, sim, make_campaign,
                                                               django_capture_on_commit_callbacks):
    sim.fail("message/send", 60020, count=1)  # not allowed from this IP, say

    campaign = _publish(make_campaign, django_capture_on_commit_callbacks)
    services.campaign_notify(campaign_id=campaign.pk)

    notice = CampaignNotice.objects.get(campaign=campaign)
    assert (notice.status, notice.errcode) == ("failed", 60020)
    assert ApiCall.objects.filter(endpoint="message/send").count() == 1
