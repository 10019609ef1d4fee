"""Fixtures for the guide sidebar on the mall host."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.fixture
def mall_client():
    return Client(HTTP_HOST="localhost")


@pytest.fixture
def sidebar_as(mall_client):
    """A mall-host client signed in to the sidebar as ``guide`` through the demo picker."""

    def sign_in(guide) -> Client:
        response = mall_client.post("/sidebar/login/", {"guide_id": guide.pk})
        assert response.status_code == 302 and response["Location"] == "/sidebar/"
        return mall_client

    return sign_in


@pytest.fixture
def customer(enroll):
    """Enrol a customer in ``guide``'s brand through the guide and record the relationship."""
    import datetime as dt

    from django.utils import timezone

    from guides.services import relationship_add
    from members.services import Profile

    def make(guide, *, name, phone, days_ago=0, **identity):
        member = enroll(guide.brand, guide=guide, channel="qr:counter", phone=phone, profile=Profile(name=name),
                        **identity).member
        relationship_add(guide=guide, member=member, channel="qr:counter",
                         added_at=timezone.now() - dt.timedelta(days=days_ago))
        return member

    return make
