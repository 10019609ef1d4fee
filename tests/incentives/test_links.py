"""Signed short share links and the /s/<code> redirect that counts visits once per visitor and day."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from incentives import attribution
from incentives.models import ShareAction, ShareLink
from scrm.errors import AppError


def test_a_code_is_signed_and_cannot_be_forged(brand_a, make_guide, link_for):
    link = link_for(make_guide(brand_a))

    assert link.code == attribution.share_code_for(link.pk)
    assert attribution.share_link_resolve(link.code).pk == link.pk
    body = link.code[:-6]
    assert attribution.share_link_resolve(attribution._b62(link.pk + 1) + link.code[-6:]) is None
    assert attribution.share_link_resolve(body + "000000") is None
    assert attribution.share_link_resolve("") is None


def test_one_link_per_guide_and_target(brand_a, make_guide, link_for):
    guide = make_guide(brand_a)
    assert link_for(guide).pk == link_for(guide).pk
    assert link_for(guide, target_id="LIVE-9", kind="live").pk != link_for(guide).pk


@pytest.mark.parametrize("field, kwargs", [
    ("kind", dict(kind="tiktok")),
    ("target_url", dict(target_url="javascript:alert(1)")),
    ("target_url", dict(target_url="ftp://x.example.com/")),
    ("title", dict(title="")),
    ("target_id", dict(target_id="")),
])
def test_bad_links_are_refused(brand_a, make_guide, link_for, field, kwargs):
    with pytest.raises(AppError) as error:
        link_for(make_guide(brand_a), **kwargs)
    assert error.value.code == "invalid_share_link" and field in error.value.fields


def test_opening_redirects_with_a_token_and_counts_a_visitor_once_a_day(brand_a, make_guide, link_for):
    link = link_for(make_guide(brand_a))
    browser = Client(HTTP_HOST="localhost")

    response = browser.get(f"/s/{link.code}")
    browser.get(f"/s/{link.code}")  # the same visitor again today: not counted twice

    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert (target.netloc, target.path) == ("shop.example.com", "/p/1")
    query = parse_qs(target.query)
    assert query["from"] == ["wx"]
    code, clicked_at = attribution.share_token_read(query["scrm_share"][0])
    assert code == link.code
    assert response.cookies["scrm_share"].value == query["scrm_share"][0]
    assert ShareLink.objects.get(pk=link.pk).opened == 1
    Client(HTTP_HOST="localhost").get(f"/s/{link.code}")  # another visitor
    assert ShareLink.objects.get(pk=link.pk).opened == 2
    assert ShareAction.objects.filter(link=link).count() == 2


def test_a_bad_code_is_a_404_page(db):
    response = Client(HTTP_HOST="localhost").get("/s/AAAAAAAAAA")
    assert response.status_code == 404
    assert "链接无效" in response.content.decode()


def test_a_resigned_guide_cannot_make_links(brand_a, make_guide, link_for):
    with pytest.raises(AppError) as error:
        link_for(make_guide(brand_a, status="resigned"))
    assert error.value.code == "guide_resigned"
