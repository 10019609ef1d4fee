"""The successor's sidebar: 继承客户 · Inherited customers with where they came from; only their own."""

from __future__ import annotations

import pytest
from django.test import Client

from guides.handover import services

pytestmark = pytest.mark.django_db


def _sidebar(guide) -> Client:
    client = Client(HTTP_HOST="localhost")
    response = client.post("/sidebar/login/", {"guide_id": guide.pk})
    assert response.status_code == 302
    return client


def test_successor_sees_inherited_customers_with_their_history_and_nobody_else_does(team, in_brand, sim):
    departed, others, euids, members = team(n=3, colleagues=2)
    handover = services.handover_start(guide=departed, source="test")
    services.handover_run(handover_id=handover.pk)
    sim.advance(120)
    services.handover_run(handover_id=handover.pk)
    mine = {i.member_id for i in handover.items.filter(successor=others[0])}
    theirs = {i.member_id for i in handover.items.filter(successor=others[1])}
    assert mine and theirs  # spread over both colleagues

    page = _sidebar(others[0]).get("/sidebar/inherited/")
    home = _sidebar(others[0]).get("/sidebar/")

    body = page.content.decode()
    assert page.status_code == 200
    assert {i.member_id for i in page.context["page"].items} == mine
    assert "继承自 From" in body and departed.name in body and "原添加 Day 0 2026-01-0" in body
    codes = {m.pk: m.code for m in members}
    assert all(codes[m] in body for m in mine) and not any(codes[m] in body for m in theirs)
    assert 'href="/sidebar/inherited/"' in home.content.decode()
    # the inherited customer opens like any of the successor's customers, day 0 unchanged
    detail = _sidebar(others[0]).get(f"/sidebar/customers/{codes[min(mine)]}/")
    assert detail.status_code == 200
    assert detail.context["relationship"].added_at.date().isoformat().startswith("2026-01-0")
    assert f"继承自 Inherited from</dt><dd data-testid=\"inherited-from\">{departed.name}" in detail.content.decode()
