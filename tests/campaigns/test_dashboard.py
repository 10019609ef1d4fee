"""Brand dashboard: a manager lists, creates (errors Chinese first), publishes and follows the brand's campaigns;
another brand's manager finds none of it (404); the mall's campaigns show the brand's own guides only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tasks.mall import services
from tasks.mall.models import Campaign

pytestmark = pytest.mark.django_db

FMT = "%Y-%m-%dT%H:%M"


def _form(**overrides):
    start = timezone.localtime() - dt.timedelta(hours=1)
    data = {"title": "周末冲刺 Weekend sprint", "description": "本周末新增客户冲刺", "script": "周末到店有礼～",
            "audience": "all", "starts_at": start.strftime(FMT), "ends_at": (start + dt.timedelta(days=2)).strftime(FMT),
            "metric": "sales", "target": "3000", "reward_coins": "100", "reward_exp": "50", "top_n": "0",
            "top_coins": "0", "top_exp": "0", "action": "publish"}
    data.update(overrides)
    return data


@pytest.fixture
def nike_manager(brand_client, brand_b, make_user):
    return brand_client(brand_b, make_user("manager-b", "brand_manager", brand=brand_b))


def test_a_manager_creates_and_publishes_a_campaign_for_the_brands_counters(world, brand_a, lancome):
    response = lancome.post("/campaigns/new/", _form(audience="counters", counters=[world.a_xuhui.pk]))

    campaign = Campaign.objects.get(brand=brand_a)
    assert response.status_code == 302 and response["Location"] == f"/campaigns/{campaign.pk}/"
    assert (campaign.state, campaign.target, campaign.created_by) == ("published", 300000, f"user:{lancome.session['_auth_user_id']}")
    assert list(campaign.counters.values_list("pk", flat=True)) == [world.a_xuhui.pk]
    page = lancome.get(response["Location"]).content.decode()
    assert "周末冲刺 Weekend sprint" in page and "兰蔻徐汇专柜" in page and "¥3,000" in page


def test_the_form_says_what_is_wrong_chinese_first(world, lancome):
    start = timezone.localtime()
    response = lancome.post("/campaigns/new/", _form(
        title="", audience="counters", counters=[world.b_jingan.pk], ends_at=start.strftime(FMT),
        starts_at=(start + dt.timedelta(hours=1)).strftime(FMT), metric="customers", target="2.5"))

    body = response.content.decode()
    assert response.status_code == 400
    assert 'data-testid="error-title"' in body and "必填 Required." in body
    assert "选项无效 Invalid choice." in body  # Nike's counter is not one Lancôme can pick
    assert "客户数、任务数须为整数 Customers and tasks are whole numbers." in body
    assert not Campaign.objects.exists()


def test_the_service_rules_show_on_the_form_too(world, lancome):
    start = timezone.localtime()
    response = lancome.post("/campaigns/new/", _form(starts_at=start.strftime(FMT), ends_at=start.strftime(FMT),
                                                     reward_coins="0", reward_exp="0", audience="stores"))

    body = response.content.decode()
    assert response.status_code == 400
    assert "结束时间须晚于开始时间 The end must be after the start." in body
    assert "达标奖励的金币和经验不能都为0" in body and "请至少选择一个门店" in body


def test_a_draft_is_saved_edited_then_published(world, brand_a, lancome):
    lancome.post("/campaigns/new/", _form(action="draft"))
    campaign = Campaign.objects.get(brand=brand_a)

    lancome.post(f"/campaigns/{campaign.pk}/edit/", _form(action="draft", title="改过的标题"))
    lancome.post(f"/campaigns/{campaign.pk}/publish/")

    campaign.refresh_from_db()
    assert (campaign.title, campaign.state) == ("改过的标题", "published")
    assert lancome.get(f"/campaigns/{campaign.pk}/edit/").status_code == 302  # published: fixed


def test_another_brands_manager_finds_nothing(world, brand_a, make_campaign, nike_manager):
    campaign = make_campaign(brand_a, publish=False)
    draft_url = f"/campaigns/{campaign.pk}"

    responses = [nike_manager.get(f"{draft_url}/"), nike_manager.get(f"{draft_url}/edit/"),
                 nike_manager.post(f"{draft_url}/edit/", _form(title="抢过来")),
                 nike_manager.post(f"{draft_url}/publish/"), nike_manager.post(f"{draft_url}/refresh/")]
    listing = nike_manager.get("/campaigns/").content.decode()

    assert [r.status_code for r in responses] == [404, 404, 404, 404, 404]
    assert "活动不存在" in responses[0].content.decode()
    assert campaign.title not in listing
    campaign.refresh_from_db()
    assert (campaign.state, campaign.title) == ("draft", "雨天线上销售赛 Rainstorm online contest")


def test_progress_per_guide_and_the_malls_campaign_shows_only_our_guides(world, brand_a, make_campaign, lancome,
                                                                         nike_manager):
    from incentives import attribution

    ours = make_campaign(brand_a, title="兰蔻冲刺", target=100000)
    mall = make_campaign(title="全场雨天赛")
    for guide in (world.ana, world.amy):
        services.campaign_claim(guide=guide, campaign_id=ours.pk)
    for guide in (world.ana, world.nick):
        services.campaign_claim(guide=guide, campaign_id=mall.pk)
    link = attribution.share_link_create(guide=world.ana, kind="product", target_id="SKU", title="t",
                                         target_url="https://shop.example.com/p/1")
    paid = timezone.now() - dt.timedelta(minutes=10)
    attribution.order_paid(brand=brand_a, order_id="D-1", amount_cents=120000, paid_at=paid, channel="pos",
                           share_token=attribution.share_token_make(link, at=paid - dt.timedelta(minutes=1)))

    refreshed = lancome.post(f"/campaigns/{ours.pk}/refresh/", follow=True)
    listing = lancome.get("/campaigns/").content.decode()
    mall_page = lancome.get(f"/campaigns/{mall.pk}/").content.decode()
    nike_mall_page = nike_manager.get(f"/campaigns/{mall.pk}/").content.decode()

    claims = refreshed.context["claims"]
    assert [(c.guide.name, c.progress_label, c.reached) for c in claims] == [("陈小美", "¥1,200", True),
                                                                            ("李安妮", "¥0", False)]
    assert 'data-testid="claim-progress">¥1,200' in refreshed.content.decode()
    assert "兰蔻冲刺" in listing and "全场雨天赛" in listing
    assert f'data-testid="claim-{world.ana.pk}"' in mall_page and f'data-testid="claim-{world.nick.pk}"' not in mall_page
    assert f'data-testid="claim-{world.nick.pk}"' in nike_mall_page and "陈小美" not in nike_mall_page


def test_a_mall_campaign_for_other_stores_is_not_the_brands_to_see(world, brand_b, make_campaign, nike_manager):
    xuhui_only = make_campaign(title="徐汇专享", audience="stores", store_ids=[world.xuhui.pk])  # Nike has no counter there

    assert nike_manager.get(f"/campaigns/{xuhui_only.pk}/").status_code == 404
    assert "徐汇专享" not in nike_manager.get("/campaigns/").content.decode()


def test_the_list_and_the_sidebar_cost_the_same_few_queries_however_many_campaigns(world, brand_a, make_campaign,
                                                                                   lancome, sidebar_as):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def cost():
        sidebar = sidebar_as(world.ana)
        with CaptureQueriesContext(connection) as listing:
            assert lancome.get("/campaigns/").status_code == 200
        with CaptureQueriesContext(connection) as today:
            assert sidebar.get("/sidebar/campaigns/").status_code == 200
        return len(listing), len(today)

    for n in range(2):
        services.campaign_claim(guide=world.ana, campaign_id=make_campaign(brand_a, title=f"兰蔻{n}").pk)
        make_campaign(title=f"商场{n}")
    few = cost()
    for n in range(2, 6):
        services.campaign_claim(guide=world.ana, campaign_id=make_campaign(brand_a, title=f"兰蔻{n}").pk)
        make_campaign(title=f"商场{n}")

    assert cost() == few
