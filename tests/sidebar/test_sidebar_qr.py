"""我的二维码 · My QR codes: a guide shows their own channel live codes (and only their own)."""

from __future__ import annotations

import re

import pytest
from django_tenants.utils import schema_context


@pytest.fixture
def live_code():
    from wecom.brand.models import LiveCode

    def make(guide, *, state="counter", name="柜台海报", kind="counter", active=True):
        with schema_context(guide.brand.schema_name):
            return LiveCode.objects.create(guide=guide, state=state, name=name, kind=kind, is_active=active,
                                           config_id=f"cfg-{guide.pk}-{state}",
                                           qr_code=f"http://sim.example/qr/{guide.pk}-{state}.png")

    return make


def test_my_qr_lists_my_active_codes_with_their_counts(sidebar_as, brand_a, make_guide, live_code, customer):
    from guides.brand.models import Relationship

    me, other = make_guide(brand_a, name="陈小美"), make_guide(brand_a, name="王丽")
    live_code(me, state="counter", name="陈小美 柜台海报")
    live_code(me, state="event-1111", name="双11活动", kind="event")
    live_code(me, state="old", name="旧海报", active=False)
    live_code(other, state="counter", name="王丽 柜台海报")
    for i, state in enumerate(["counter", "counter", "event-1111"]):
        member = customer(me, name=f"顾客{i}", phone=f"1380000000{i}")
        with schema_context(brand_a.schema_name):
            Relationship.objects.filter(guide_id=me.pk, member_id=member.pk).update(state=state)
    with schema_context(brand_a.schema_name):
        ended = Relationship.objects.filter(guide_id=me.pk, state="counter").order_by("pk").first()
        Relationship.objects.filter(pk=ended.pk).update(status="ended")

    page = sidebar_as(me).get("/sidebar/qr/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "陈小美 柜台海报" in html and "双11活动" in html
    assert "旧海报" not in html and "王丽 柜台海报" not in html
    counter_stats = html.split('data-testid="qr-stats-counter"', 1)[1].split("</div>", 1)[0]
    assert [int(b) for b in re.findall(r"<b>(-?\d+)</b>", counter_stats)] == [2, 1, 1]


def test_qr_image_is_served_for_my_code_only(sidebar_as, brand_a, make_guide, live_code, monkeypatch):
    import wecom.livecodes

    me, other = make_guide(brand_a), make_guide(brand_a)
    mine, theirs = live_code(me), live_code(other)
    fetched = []
    monkeypatch.setattr(wecom.livecodes, "qr_image", lambda url: fetched.append(url) or (b"\x89PNG..", "image/png"))
    client = sidebar_as(me)

    ok = client.get(f"/sidebar/qr/{mine.pk}.png")
    assert ok.status_code == 200 and ok["Content-Type"] == "image/png" and ok.content == b"\x89PNG.."
    assert client.get(f"/sidebar/qr/{theirs.pk}.png").status_code == 404
    assert fetched == [mine.qr_code]


def test_a_guide_without_codes_is_told_whom_to_ask(sidebar_as, brand_a, make_guide):
    page = sidebar_as(make_guide(brand_a)).get("/sidebar/qr/")

    assert page.status_code == 200 and 'data-testid="qr-empty"' in page.content.decode()
