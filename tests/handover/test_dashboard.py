"""Brand dashboard pages for handovers: list, report, CSV, resign with confirmation, successor override,
on-job warning; a brand sees only its own handovers and a guide login sees none."""

from __future__ import annotations

import pytest
from django.test import Client

from guides.handover import services
from guides.handover.models import Handover, HandoverItem

pytestmark = pytest.mark.django_db


def _client(brand, user) -> Client:
    client = Client(HTTP_HOST=f"{brand.slug}.localhost")
    client.force_login(user)
    return client


@pytest.fixture
def manager(make_user, brand_a):
    return _client(brand_a, make_user("ho-manager", "brand_manager", brand=brand_a))


@pytest.fixture
def started(team, in_brand, sim):
    departed, others, euids, members = team(n=4, colleagues=2)
    sim.transfer_outcome([euids[0]], "refuse")
    handover = services.handover_start(guide=departed, source="test")
    services.handover_run(handover_id=handover.pk)
    return handover, departed, others, euids, members


def test_manager_sees_the_handover_in_progress_its_report_and_csv(manager, started, sim):
    handover, departed, _others, _euids, members = started

    listing = manager.get("/handovers/")
    in_progress = manager.get(f"/handovers/{handover.pk}/")
    sim.advance(120)
    services.handover_run(handover_id=handover.pk)
    report = manager.get(f"/handovers/{handover.pk}/")
    csv = manager.get(f"/handovers/{handover.pk}/export.csv")

    assert listing.status_code == 200 and departed.name in listing.content.decode()
    assert "客户继承 Handovers" in listing.content.decode()  # the nav entry
    assert [h.pk for h in listing.context["handovers"]] == [handover.pk]
    assert in_progress.context["counts"]["waiting"] == 4
    assert "等待接替 Waiting" in in_progress.content.decode()
    counts = report.context["counts"]
    assert (counts["total"], counts["taken_over"], counts["refused"]) == (4, 3, 1)
    body = csv.content.decode("utf-8-sig")
    assert csv["Content-Type"].startswith("text/csv")
    assert body.count("\n") == 5 and all(m.code in body for m in members)
    assert body.count(",refused,") == 1 and body.count(",taken_over,") == 3


def test_resign_asks_for_confirmation_first(manager, team, in_brand, sim):
    from guides.models import Guide

    guide, _others, _euids, _members = team(n=3, colleagues=1, resign=False)

    asked = manager.post("/handovers/resign/", {"guide": guide.pk})
    still = Guide.objects.get(pk=guide.pk).status
    done = manager.post("/handovers/resign/", {"guide": guide.pk, "confirm": "1"})

    assert asked.status_code == 200 and asked.context["customers"] == 3
    assert 'name="confirm" value="1"' in asked.content.decode()
    assert still == "active"
    assert done.status_code == 302
    assert Guide.objects.get(pk=guide.pk).status == "resigned"


def test_manager_overrides_the_successor_in_bulk_and_per_customer(manager, team, in_brand, sim, make_guide,
                                                                   brand_a):
    departed, _others, euids, _members = team(n=4, colleagues=0)  # nobody to inherit: needs a successor
    sim.transfer_outcome([euids[0]], "limit")
    handover = services.handover_start(guide=departed, source="test")
    items = list(HandoverItem.objects.filter(handover=handover).order_by("id"))
    chosen = make_guide(brand_a, userid="ho-bulk", name="指定接替")
    sim.member(chosen.wecom_userid, name=chosen.name, silent=True)

    bulk = manager.post(f"/handovers/{handover.pk}/assign/", {"successor": chosen.pk})  # every customer
    sim.advance(120)
    services.handover_run(handover_id=handover.pk)  # items[0]: WeCom says the successor is full (status 4)
    at_limit = HandoverItem.objects.get(pk=items[0].pk).state
    picked = make_guide(brand_a, userid="ho-one", name="另选接替")
    sim.member(picked.wecom_userid, name=picked.name, silent=True)
    one = manager.post(f"/handovers/{handover.pk}/assign/", {"successor": picked.pk, "item": [items[0].pk]})

    assert bulk.status_code == one.status_code == 302
    assert at_limit == "successor_at_limit"
    successors = dict(HandoverItem.objects.filter(handover=handover).values_list("pk", "successor_id"))
    assert successors == {items[0].pk: picked.pk, **{i.pk: chosen.pk for i in items[1:]}}
    # each choice went to WeCom right away ("continue" runs after the override)
    sent = [(t["external_userid"], t["takeover_userid"]) for t in sim.get("transfers")["transfers"]]
    assert sorted(sent) == sorted([(i.external_userid, chosen.wecom_userid) for i in items]
                                  + [(items[0].external_userid, picked.wecom_userid)])


def test_needs_successor_is_visible(manager, team, in_brand):
    departed, _others, _euids, _members = team(n=2, colleagues=0)
    handover = services.handover_start(guide=departed, source="test")

    page = manager.get(f"/handovers/{handover.pk}/")

    assert Handover.objects.get(pk=handover.pk).status == "needs_successor"
    assert "待指定接替人 Needs successor 2" in page.content.decode()


def test_onjob_warns_before_submitting_when_customers_were_moved_twice(manager, team, in_brand, sim):
    departed, others, euids, members = team(n=2, colleagues=1, resign=False)
    for _ in range(2):
        earlier = Handover.objects.create(kind="onjob", guide=departed)
        HandoverItem.objects.create(handover=earlier, member=members[0], external_userid=euids[0],
                                    state="taken_over", submitted_at="2099-01-01T00:00:00Z")
    form = {"from_guide": departed.pk, "to_guide": others[0].pk, "codes": "", "message": "以后由我为您服务"}

    warned = manager.post("/handovers/onjob/", form)
    before_confirming = Handover.objects.filter(kind="onjob", source="manager").count()
    submitted = manager.post("/handovers/onjob/", {**form, "confirm": "1"})

    assert warned.status_code == 200, warned.content.decode()[-2000:]
    assert warned.context["warnings"] == [members[0].code]
    assert before_confirming == 0  # nothing sent before confirming
    assert submitted.status_code == 302
    sent = [c for c in sim.calls(endpoint="externalcontact/transfer_customer")]
    assert len(sent) == 1 and sent[0]["body"]["external_userid"] == [euids[1]]
    assert sent[0]["body"]["transfer_success_msg"] == "以后由我为您服务"


def test_another_brand_and_a_guide_login_see_none_of_it(started, make_user, brand_b, brand_a):
    handover = started[0]
    other = _client(brand_b, make_user("ho-nike", "brand_manager", brand=brand_b))
    guide_login = _client(brand_a, make_user("ho-guide", "guide", brand=brand_a, guide=started[2][0]))

    assert other.get(f"/handovers/{handover.pk}/").status_code == 404
    assert other.get(f"/handovers/{handover.pk}/export.csv").status_code == 404
    assert other.get("/handovers/").context["handovers"] == []
    assert guide_login.get("/handovers/").status_code == 403
    assert guide_login.get(f"/handovers/{handover.pk}/export.csv").status_code == 403
