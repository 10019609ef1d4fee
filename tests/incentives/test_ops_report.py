"""Mall ops: the attribution report across every brand in the admin, aggregates only, with CSV."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from incentives import attribution
from tests.incentives.conftest import at

REPORT = "/admin/incentives/attributionsettings/report/"
NOV = "from=2026-11-01&to=2026-11-30"


@pytest.fixture
def ops(make_user):
    def make(role="mall_analyst", username="ops-report", **kwargs) -> Client:
        user = make_user(username, role, **kwargs)
        user.is_staff = True
        user.save(update_fields=["is_staff"])
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        return client

    return make


@pytest.fixture
def sales(brand_a, brand_b, make_guide, link_for):
    """Lancôme: Ana ¥3,000 (¥1,000 refunded) and Bo ¥500 on the 23rd; Nike: Nick ¥990 on the 22nd, one
    unattributed ¥100. All at the one test store."""
    ana, bo, nick = make_guide(brand_a, name="Ana"), make_guide(brand_a, name="Bo"), make_guide(brand_b, name="Nick")
    for guide, brand, order_id, cents, day in ((ana, brand_a, "A1", 300000, 23), (bo, brand_a, "B1", 50000, 23),
                                               (nick, brand_b, "N1", 99000, 22)):
        token = attribution.share_token_make(link_for(guide), at=at(day, 14))
        attribution.order_paid(brand=brand, order_id=order_id, amount_cents=cents, paid_at=at(day, 15),
                               channel="mini_program" if brand == brand_a else "pos", share_token=token)
    attribution.order_paid(brand=brand_b, order_id="N2", amount_cents=10000, paid_at=at(22, 16), channel="pos")
    attribution.order_refunded(brand=brand_a, order_id="A1", refund_id="R1", amount_cents=100000)
    return dict(ana=ana, bo=bo, nick=nick)


def _rows(page, *keys):
    return [tuple(row[key] for key in keys) for row in page.context["rows"]]


def test_mall_ops_see_every_brand_as_totals(ops, sales, brand_a, brand_b):
    page = ops().get(f"{REPORT}?{NOV}&group=brand")

    assert page.status_code == 200
    assert _rows(page, "label", "orders", "sales", "refunded", "net", "commission", "guides") == [
        (brand_a.name, 2, "3500.00", "1000.00", "2500.00", "250.00", 2),
        (brand_b.name, 2, "1090.00", "0.00", "1090.00", "99.00", 1)]
    assert page.context["totals"]["net"] == "3590.00"
    assert "A1" not in page.content.decode() and "N2" not in page.content.decode()  # no order ever leaves a brand


def test_by_guide_each_guide_keeps_their_brand_and_the_unattributed_stay_per_brand(ops, sales, brand_b):
    page = ops().get(f"{REPORT}?{NOV}&group=guide")

    rows = _rows(page, "label", "brand", "orders", "net")
    assert [(label.split(" ")[0], brand, orders, net) for label, brand, orders, net in rows] == [
        ("Ana", "兰蔻 Lancôme", 1, "2000.00"), ("Nick", "耐克 Nike", 1, "990.00"), ("Bo", "兰蔻 Lancôme", 1, "500.00"),
        ("未归因", "耐克 Nike", 1, "100.00")]


def test_by_store_channel_and_day_the_brands_add_up(ops, sales):
    client = ops()

    store = client.get(f"{REPORT}?{NOV}&group=store")
    channel = client.get(f"{REPORT}?{NOV}&group=channel")
    day = client.get(f"{REPORT}?{NOV}&group=day")

    assert _rows(store, "label", "brands", "orders", "net", "guides") == [("静安店 Jing'an", 2, 3, "3490.00", 3),
                                                                         ("—", 1, 1, "100.00", 0)]
    assert _rows(channel, "label", "brands", "orders", "net") == [("mini_program", 1, 2, "2500.00"),
                                                                  ("pos", 1, 2, "1090.00")]
    assert _rows(day, "label", "orders", "net") == [("2026-11-22", 2, "1090.00"), ("2026-11-23", 2, "2500.00")]


def test_one_brand_and_a_date_range(ops, sales, brand_b):
    client = ops()

    nike = client.get(f"{REPORT}?{NOV}&group=counter&brand={brand_b.pk}")
    only_22nd = client.get(f"{REPORT}?from=2026-11-22&to=2026-11-22&group=brand")
    bad_input = client.get(f"{REPORT}?from=yesterday&group=nonsense&brand=999999")

    assert _rows(nike, "brand", "orders") == [("耐克 Nike", 1), ("耐克 Nike", 1)]
    assert _rows(only_22nd, "label", "orders") == [("耐克 Nike", 2)]
    assert bad_input.status_code == 200 and bad_input.context["group"] == "brand"


def test_csv_export(ops, sales):
    response = ops().get(f"{REPORT}?{NOV}&group=guide&format=csv")

    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="attribution-all-brands-guide-2026-11-01-2026-11-30.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["导购 Guide", "品牌 Brand", "品牌数 Brands", "订单 Orders"]
    assert rows[1][1:] == ["兰蔻 Lancôme", "1", "1", "3000.00", "1000.00", "2000.00", "200.00", "1", "0", "0"]
    assert len(rows) == 5


def test_one_statement_reads_every_brand(ops, sales):
    client = ops()
    with CaptureQueriesContext(connection) as queries:
        client.get(f"{REPORT}?{NOV}&group=store")

    reading = [q["sql"] for q in queries.captured_queries if "brandincentives_order o" in q["sql"]]
    assert len(reading) == 1 and reading[0].count("UNION ALL") >= 1


@pytest.mark.parametrize("role, status", [("mall_admin", 200), ("mall_operator", 200), ("mall_analyst", 200),
                                          ("brand_manager", 403)])
def test_only_mall_roles_open_the_report(ops, brand_a, role, status):
    client = ops(role, username=f"r-{role}", brand=brand_a if role == "brand_manager" else None)
    assert client.get(REPORT).status_code == status


def test_a_brand_login_without_staff_is_sent_to_the_admin_login(brand_a, make_user):
    client = Client(HTTP_HOST="localhost")
    client.force_login(make_user("mgr-report", "brand_manager", brand=brand_a))

    response = client.get(REPORT)

    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_settings_page_links_the_report(ops):
    page = ops("mall_admin", username="ops-link").get("/admin/incentives/attributionsettings/")
    assert f'href="{REPORT}"' in page.content.decode()
