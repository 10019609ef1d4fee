"""Mall ops (admin on the mall host): every brand's handovers, a report with CSV, and "resign and hand over"
with a confirmation page. Brand logins get none of it."""

from __future__ import annotations

import pytest
from django.test import Client

from guides.handover import services

pytestmark = pytest.mark.django_db


def _admin(make_user, username, role, **kwargs) -> Client:
    user = make_user(username, role, **kwargs)
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    return client


def test_mall_ops_see_every_brands_handovers_and_reports(team, in_brand, sim, make_user, brand_a, brand_b):
    departed, _others, _euids, members = team(n=3, colleagues=1)
    handover = services.handover_start(guide=departed, source="test")
    services.handover_run(handover_id=handover.pk)
    ops = _admin(make_user, "ops-ho", "mall_analyst")

    listing = ops.get("/admin/guides/guide/handovers/")
    report = ops.get(f"/admin/guides/guide/handovers/{brand_a.slug}/{handover.pk}/")
    csv = ops.get(f"/admin/guides/guide/handovers/{brand_a.slug}/{handover.pk}/export.csv")
    wrong_brand = ops.get(f"/admin/guides/guide/handovers/{brand_b.slug}/{handover.pk}/")
    changelist = ops.get("/admin/guides/guide/")

    assert listing.status_code == 200
    assert [(r["brand"].pk, r["handover"].pk, r["counts"]["total"], r["counts"]["waiting"])
            for r in listing.context["rows"]] == [(brand_a.pk, handover.pk, 3, 3)]
    assert report.status_code == 200 and report.context["counts"]["total"] == 3
    assert all(m.code in report.content.decode() for m in members)
    assert csv.status_code == 200 and csv.content.decode("utf-8-sig").count("\n") == 4
    assert wrong_brand.status_code == 404
    assert 'href="/admin/guides/guide/handovers/"' in changelist.content.decode()


def test_resign_action_confirms_then_resigns(team, make_user, sim, django_capture_on_commit_callbacks):
    from guides.models import Guide

    guide, _others, _euids, _members = team(n=2, colleagues=1, resign=False)
    ops = _admin(make_user, "ops-op", "mall_operator")
    form = {"action": "resign_and_hand_over", "_selected_action": [guide.pk]}

    asked = ops.post("/admin/guides/guide/", form)
    status_after_asking = Guide.objects.get(pk=guide.pk).status
    with django_capture_on_commit_callbacks() as callbacks:
        done = ops.post("/admin/guides/guide/", {**form, "confirm": "1"})

    assert asked.status_code == 200 and status_after_asking == "active"
    assert [g.customer_count for g in asked.context["guides"]] == [2]
    assert done.status_code == 302 and done["Location"] == "/admin/guides/guide/handovers/"
    assert Guide.objects.get(pk=guide.pk).status == "resigned"
    assert len(callbacks) == 1  # the handover starts after the commit


def test_read_only_ops_and_brand_logins_cannot_resign_or_read(team, make_user, brand_a):
    from guides.models import Guide

    guide, _others, _euids, _members = team(n=1, colleagues=1, resign=False)
    analyst = _admin(make_user, "ops-an", "mall_analyst")
    brand_login = _admin(make_user, "brand-staff", "brand_manager", brand=brand_a)

    analyst.post("/admin/guides/guide/", {"action": "resign_and_hand_over", "_selected_action": [guide.pk],
                                          "confirm": "1"})

    assert Guide.objects.get(pk=guide.pk).status == "active"
    assert brand_login.get("/admin/guides/guide/handovers/").status_code in (302, 403)
