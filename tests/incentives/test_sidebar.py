"""Sidebar pages: my standing with the leaderboard, my links with their live numbers (own links only)."""

from __future__ import annotations

from incentives import attribution, leaderboards, services


def test_me_page_shows_coins_rank_and_my_place(brand_a, make_guide, sidebar_as, clean_redis):
    me, rival = make_guide(brand_a, name="陈小美"), make_guide(brand_a, name="王大力")
    services.reward_credit(guide_id=me.pk, coins=120, exp=2100, source="guide_task", source_id="lancome:1",
                           note="第7天回访 Day 7")
    leaderboards.bump(metric="sales", guide_id=me.pk, amount=30000)
    leaderboards.bump(metric="sales", guide_id=rival.pk, amount=50000)

    page = sidebar_as(me).get("/sidebar/me/?metric=sales&period=today&scope=brand")

    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="coins">120<' in html and "黄金 Gold" in html and "第7天回访" in html
    assert "1. 王大力" in html and "¥500.00" in html and "¥300.00" in html
    assert "我的排名 My rank: <b>2</b> / 2" in html


def test_leaderboard_api_and_bad_parameters(brand_a, make_guide, sidebar_as, clean_redis):
    me = make_guide(brand_a, name="陈小美")
    leaderboards.bump(metric="coins", guide_id=me.pk, amount=7)
    client = sidebar_as(me)

    good = client.get("/sidebar/api/leaderboard/?metric=coins&period=week&scope=mall").json()
    bad = client.get("/sidebar/api/leaderboard/?metric=likes")

    assert good["me"] == {"rank": 1, "name": "陈小美", "score": 7.0, "me": True}
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_leaderboard")


def test_links_page_lists_only_my_links_and_the_feed_follows_events(brand_a, make_guide, sidebar_as, clean_redis,
                                                                    django_capture_on_commit_callbacks):
    me, colleague = make_guide(brand_a, name="陈小美"), make_guide(brand_a, name="王大力")
    client = sidebar_as(me)
    created = client.post("/sidebar/links/new/", {"kind": "product", "target_id": "SKU-9", "title": "小黑瓶",
                                                  "target_url": "https://shop.example.com/p/9"})
    other = attribution.share_link_create(guide=colleague, kind="product", target_id="SKU-9", title="同事的链接",
                                          target_url="https://shop.example.com/p/9")
    mine = me.share_links.get()

    page = client.get("/sidebar/links/").content.decode()
    first = client.get("/sidebar/api/feed/").json()
    with django_capture_on_commit_callbacks(execute=True):
        attribution.share_event_ingest(event_id="e-1", kind="like", share_code=mine.code, visitor="v1")
    unchanged = client.get(f"/sidebar/api/feed/?v={first['version'] + 1}").json()
    stale = client.get(f"/sidebar/api/feed/?v={first['version']}").json()

    assert created.status_code == 302
    assert f"/s/{mine.code}" in page and "同事的链接" not in page and other.code not in page
    assert [link["code"] for link in first["links"]] == [mine.code]
    assert unchanged == {"version": first["version"] + 1, "unchanged": True}
    assert stale["links"][0]["liked"] == 1 and stale["recent"][0]["event"] == "like"


def test_bad_link_form_shows_the_reason(brand_a, make_guide, sidebar_as):
    client = sidebar_as(make_guide(brand_a))
    response = client.post("/sidebar/links/new/", {"kind": "product", "target_id": "X", "title": "t",
                                                   "target_url": "javascript:alert(1)"}, follow=True)
    assert "target_url" in response.content.decode()
    assert not response.context["links"]


def test_demo_customer_buys_through_the_link(brand_a, make_guide, sidebar_as, enroll, clean_redis):
    from guides.services import relationship_add
    from incentives.models import GuideBalance
    from members.models import Member

    me = make_guide(brand_a, name="陈小美")
    member = enroll(brand_a, guide=me, unionid="u-demo-buy").member
    relationship_add(guide=me, member=member)
    link = attribution.share_link_create(guide=me, kind="product", target_id="SKU-1", title="小黑瓶",
                                         target_url="https://shop.example.com/p/1")
    client = sidebar_as(me)

    page = client.post(f"/sidebar/links/{link.pk}/demo-buy/", follow=True)

    link.refresh_from_db()
    assert page.status_code == 200 and "演示：一位顾客" in page.content.decode()
    assert (link.opened, link.liked, link.carted, link.bought) == (1, 1, 1, 1)
    assert Member.objects.get(pk=member.pk).points_balance == link.sales_cents // 100  # the customer's points
    assert GuideBalance.objects.get(guide=me).coins > 0


def test_demo_buy_is_only_for_my_own_links(brand_a, make_guide, sidebar_as):
    me, colleague = make_guide(brand_a), make_guide(brand_a)
    theirs = attribution.share_link_create(guide=colleague, kind="product", target_id="SKU-1", title="t",
                                           target_url="https://shop.example.com/p/1")
    assert sidebar_as(me).post(f"/sidebar/links/{theirs.pk}/demo-buy/").status_code == 404


def test_star_guides_are_shown_with_their_month(brand_a, brand_b, make_guide, sidebar_as, clean_redis):
    from incentives.models import StarGuide

    me, star = make_guide(brand_a, name="陈小美"), make_guide(brand_b, name="李明星")
    leaderboards.bump(metric="sales", guide_id=star.pk, amount=1234500)
    StarGuide.objects.create(guide=star, headline="11月销冠 Top seller", story="雨天直播卖出120双 120 pairs in one rainy live.")

    html = sidebar_as(me).get("/sidebar/me/").content.decode()

    assert "李明星" in html and "11月销冠" in html and "120 pairs" in html
    assert "¥12,345.00" in html and "商场第1名" in html
