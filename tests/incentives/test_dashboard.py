"""Brand dashboard: the attribution report (CSV too), the brand's rewards and redemption approval."""

from __future__ import annotations

import csv
import io

import pytest

from incentives import attribution, services, shop
from incentives.models import Redemption, Reward
from tests.incentives.conftest import at


@pytest.fixture
def sales(brand_a, brand_b, make_guide, enroll):
    ana, bo = make_guide(brand_a, name="Ana"), make_guide(brand_a, name="Bo")
    for guide, order_id, cents in ((ana, "A1", 300000), (ana, "A2", 100000), (bo, "B1", 50000)):
        link = attribution.share_link_create(guide=guide, kind="product", target_id="SKU", title="t",
                                             target_url="https://s.example.com/")
        attribution.order_paid(brand=brand_a, order_id=order_id, amount_cents=cents, paid_at=at(23, 23),
                               channel="mini_program", share_token=attribution.share_token_make(link, at=at(23, 22)))
    attribution.order_refunded(brand=brand_a, order_id="A2")
    attribution.order_paid(brand=brand_b, order_id="N1", amount_cents=990000, paid_at=at(23, 15), channel="pos")
    return ana, bo


def test_report_by_guide_with_refunds_and_cross_time(lancome, sales):
    page = lancome.get("/incentives/?from=2026-11-01&to=2026-11-30&group=guide")

    rows = page.context["rows"]
    assert [(r["label"].split(" ")[0], r["orders"], r["net"], r["commission"], r["cross_time"]) for r in rows] == [
        ("Ana", 2, "3000.00", "300.00", 2), ("Bo", 1, "500.00", "50.00", 1)]
    assert "9900.00" not in page.content.decode()  # nike's order is in nike's schema


def test_report_csv_export(lancome, sales):
    response = lancome.get("/incentives/?from=2026-11-01&to=2026-11-30&group=channel&format=csv")

    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["渠道 Channel", "订单 Orders"]
    assert rows[1] == ["mini_program", "3", "4500.00", "1000.00", "3500.00", "350.00", "3", "0"]


def test_other_brands_manager_cannot_open_the_report(brand_client, brand_a, make_user, brand_b):
    nike_manager = make_user("manager-b", "brand_manager", brand=brand_b)
    assert brand_client(brand_a, nike_manager).get("/incentives/").status_code == 403


def test_brand_manager_adds_a_reward_and_approves_a_redemption(lancome, brand_a, make_guide):
    guide = make_guide(brand_a)
    services.reward_credit(guide_id=guide.pk, coins=1000, exp=0, source="guide_task", source_id="lancome:9")

    lancome.post("/incentives/rewards/add/", {"name": "兰蔻小样 Sample", "coin_price": "200", "stock": "5",
                                              "kind": "gift"})
    bad = lancome.post("/incentives/rewards/add/", {"name": "", "coin_price": "-1", "stock": "x"}, follow=True)
    reward = Reward.objects.get(brand=brand_a)
    redemption = shop.reward_redeem(guide=guide, reward_id=reward.pk)
    page = lancome.get("/incentives/rewards/").content.decode()
    lancome.post(f"/incentives/redemptions/{redemption.pk}/approve/")
    lancome.post(f"/incentives/redemptions/{redemption.pk}/fulfil/")

    assert "Name, a positive coin price" in bad.content.decode()
    assert Reward.objects.filter(brand=brand_a).count() == 1
    assert f'data-testid="redemption-{redemption.pk}"' in page
    assert Redemption.objects.get(pk=redemption.pk).state == "fulfilled"


def test_nike_cannot_decide_lancomes_redemption(brand_client, brand_a, brand_b, make_user, make_guide):
    guide = make_guide(brand_a)
    services.reward_credit(guide_id=guide.pk, coins=1000, exp=0, source="guide_task", source_id="lancome:9")
    reward = Reward.objects.create(brand=brand_a, name="兰蔻小样", coin_price=200, stock=5)
    redemption = shop.reward_redeem(guide=guide, reward_id=reward.pk)
    nike = brand_client(brand_b, make_user("manager-b", "brand_manager", brand=brand_b))

    response = nike.post(f"/incentives/redemptions/{redemption.pk}/approve/", follow=True)

    assert "兑换申请不存在" in response.content.decode()
    assert Redemption.objects.get(pk=redemption.pk).state == "pending"
