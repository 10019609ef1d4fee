"""Leaderboards for brand managers (brand dashboard) and mall ops (admin): scopes x periods x metrics, the top 20,
a server-side SVG chart, and a brand that never sees another brand's guides."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from incentives import attribution, charts, leaderboards

BRAND_PAGE = "/incentives/leaderboards/"
OPS_PAGE = "/admin/incentives/attributionsettings/leaderboards/"


@pytest.fixture
def sales(brand_a, brand_b, make_guide, clean_redis, django_capture_on_commit_callbacks):
    """Today, at the one test store: Bo ¥500 and Ana ¥300 at Lancôme's counter, Nick ¥400 at Nike's."""
    ana, bo, nick = make_guide(brand_a, name="Ana"), make_guide(brand_a, name="Bo"), make_guide(brand_b, name="Nick")
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        for guide, order_id, cents in ((ana, "A1", 30000), (bo, "B1", 50000), (nick, "N1", 40000)):
            link = attribution.share_link_create(guide=guide, kind="product", target_id="SKU", title="t",
                                                 target_url="https://s.example.com/")
            attribution.order_paid(brand=guide.brand, order_id=order_id, amount_cents=cents, paid_at=now,
                                   channel="pos", share_token=attribution.share_token_make(
                                       link, at=now - dt.timedelta(minutes=1)))
    return dict(ana=ana, bo=bo, nick=nick, store=ana.counter.store)


def _rows(page, *keys):
    return [tuple(row[key] for key in keys) for row in page.context["rows"]]


@pytest.mark.parametrize("scope, expected", [
    ("brand", [(1, "Bo", "¥500.00"), (2, "Ana", "¥300.00")]),
    ("counter", [(1, "Bo", "¥500.00"), (2, "Ana", "¥300.00")]),
    ("store", [(1, "Bo", "¥500.00"), (3, "Ana", "¥300.00")]),  # Nike's Nick is 2nd in the store: not listed
    ("mall", [(1, "Bo", "¥500.00"), (3, "Ana", "¥300.00")]),
])
def test_a_brand_manager_sees_only_the_brands_guides_with_their_place(lancome, sales, scope, expected):
    page = lancome.get(f"{BRAND_PAGE}?metric=sales&period=today&scope={scope}&store={sales['store'].pk}")

    assert page.status_code == 200
    assert _rows(page, "rank", "name", "value") == expected
    html = page.content.decode()
    assert "Nick" not in html and "¥400.00" not in html
    assert '<svg class="bar-chart"' in html and "1. Bo" in html


def test_nike_sees_its_own_guide_only(brand_client, brand_b, make_user, sales):
    nike = brand_client(brand_b, make_user("manager-b", "brand_manager", brand=brand_b))

    brand_board = nike.get(f"{BRAND_PAGE}?period=today&scope=brand")
    store_board = nike.get(f"{BRAND_PAGE}?period=today&scope=store")

    assert _rows(brand_board, "rank", "name") == [(1, "Nick")]
    assert _rows(store_board, "rank", "name") == [(2, "Nick")]
    assert store_board.context["board"].size == 3 and store_board.context["board"].listed == 1
    for page in (brand_board, store_board):
        assert "Ana" not in page.content.decode() and "Bo<" not in page.content.decode()


def test_another_brands_manager_cannot_open_the_page(brand_client, brand_a, brand_b, make_user):
    nike_manager = make_user("manager-b", "brand_manager", brand=brand_b)
    assert brand_client(brand_a, nike_manager).get(BRAND_PAGE).status_code == 403


def test_metrics_and_periods_are_selectable(lancome, sales):
    coins = lancome.get(f"{BRAND_PAGE}?metric=coins&period=week&scope=brand")
    nonsense = lancome.get(f"{BRAND_PAGE}?metric=fame&period=decade&scope=galaxy")

    assert _rows(coins, "name", "value") == [("Bo", "50"), ("Ana", "30")]  # 10 coins per ¥100
    assert (nonsense.context["metric"], nonsense.context["period"], nonsense.context["scope"]) == (
        "sales", "month", "brand")
    assert _rows(nonsense, "name") == [("Bo",), ("Ana",)]


def test_top_20_of_a_long_board(brand_a, make_guide, clean_redis):
    guides = [make_guide(brand_a, name=f"G{i:02d}") for i in range(22)]
    key = leaderboards.board_key("sales", "month", timezone.now(), "brand", brand_a.pk)
    clean_redis.zadd(key, {g.pk: 1000 * (i + 1) for i, g in enumerate(guides)})

    board = leaderboards.board_top(metric="sales", period="month", scope="brand", scope_id=brand_a.pk,
                                   brand_id=brand_a.pk)

    assert len(board.rows) == 20 and (board.listed, board.size) == (22, 22)
    assert [(r.rank, r.name) for r in board.rows[:2]] == [(1, "G21"), (2, "G20")]


def test_a_stray_guide_of_another_brand_on_a_board_is_never_named(brand_a, brand_b, make_guide, clean_redis):
    ana, nick = make_guide(brand_a, name="Ana"), make_guide(brand_b, name="Nick")
    key = leaderboards.board_key("sales", "month", timezone.now(), "brand", brand_a.pk)
    clean_redis.zadd(key, {ana.pk: 100, nick.pk: 900})  # e.g. a guide moved brands after the board was built

    board = leaderboards.board_top(metric="sales", period="month", scope="brand", scope_id=brand_a.pk,
                                   brand_id=brand_a.pk)

    assert [r.name for r in board.rows] == ["Ana"]


def test_the_chart_escapes_names_and_scales_bars():
    svg = str(charts.bar_chart(bars=[charts.Bar("<b>Bo</b>", 500, "¥5.00", strong=True), charts.Bar("Ana", 250, "¥2.50"),
                                     charts.Bar("Refunded", -10, "-¥0.10")], title="销售额 & sales"))

    assert svg.startswith('<svg class="bar-chart"') and "<b>" not in svg and "&lt;b&gt;Bo&lt;/b&gt;" in svg
    assert 'width="420.0"' in svg and 'width="210.0"' in svg and 'width="0.0"' in svg
    assert "销售额 &amp; sales" in svg and "<script" not in svg
    assert charts.bar_chart(bars=[], title="x") == ""


# --------------------------------------------------------------------------- mall ops

@pytest.fixture
def ops(make_user):
    def make(role="mall_analyst", **kwargs) -> Client:
        user = make_user(f"ops-lb-{role}", role, **kwargs)
        user.is_staff = True
        user.save(update_fields=["is_staff"])
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        return client

    return make


def test_mall_ops_see_any_board_with_every_brand(ops, sales, brand_a, brand_b):
    client = ops()
    store = sales["store"].pk

    mall = client.get(f"{OPS_PAGE}?metric=sales&period=today&scope=mall")
    nike = client.get(f"{OPS_PAGE}?period=today&scope=brand&brand={brand_b.pk}")
    lancome_counter = client.get(f"{OPS_PAGE}?period=today&scope=counter&brand={brand_a.pk}&store={store}")

    assert mall.status_code == 200
    assert _rows(mall, "rank", "name", "brand", "value") == [(1, "Bo", brand_a.name, "¥500.00"),
                                                             (2, "Nick", brand_b.name, "¥400.00"),
                                                             (3, "Ana", brand_a.name, "¥300.00")]
    assert '<svg class="bar-chart"' in mall.content.decode()
    assert _rows(nike, "name") == [("Nick",)]
    assert _rows(lancome_counter, "name") == [("Bo",), ("Ana",)]


def test_a_counter_that_does_not_exist_says_so(ops, brand_b, sales):
    from tenants.models import Store

    other = Store.objects.create(code="S99", name="别的店", city="上海", address="-", latitude="31.2", longitude="121.4")

    page = ops().get(f"{OPS_PAGE}?scope=counter&brand={brand_b.pk}&store={other.pk}")

    assert page.status_code == 200 and page.context["rows"] == [] and "没有专柜" in page.content.decode()


def test_brand_roles_cannot_open_the_mall_boards(ops, brand_a):
    assert ops("brand_manager", brand=brand_a).get(OPS_PAGE).status_code == 403


def test_the_settings_page_and_the_report_link_the_boards(ops):
    client = ops("mall_admin")
    for url in ("/admin/incentives/attributionsettings/", "/admin/incentives/attributionsettings/report/"):
        assert f'href="{OPS_PAGE}"' in client.get(url).content.decode()
