"""The sidebar's per-request identity: sessions read through Redis (PostgreSQL stays the record) and the
signed-in guide loaded with brand, counter and store in one plain statement."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext

from guides.models import Guide
from guides.selectors import guide_with_places
from scrm.sessions import SessionStore
from tests.incentives.conftest import clean_redis  # noqa: F401 (a fixture)

GUIDE_KEY = "sidebar_guide_id"


def _dead_session_cache(settings):
    """The sessions cache pointed at a port nothing listens on (Redis down)."""
    caches_setting = {**settings.CACHES}
    caches_setting["sessions"] = {**caches_setting["sessions"], "LOCATION": "redis://127.0.0.1:1/0"}
    settings.CACHES = caches_setting


def _cached(session_key):
    return caches["sessions"].get(SessionStore.cache_key_prefix + session_key)


@pytest.mark.parametrize("with_counter", [True, False])
def test_the_guide_loads_like_select_related_and_its_places_cost_no_query(brand_a, make_guide, with_counter):
    guide = make_guide(brand_a, name="王导购")
    if not with_counter:
        Guide.objects.filter(pk=guide.pk).update(counter=None)
    expected = Guide.objects.select_related("brand", "counter__store").get(pk=guide.pk)

    with CaptureQueriesContext(connection) as queries:
        loaded = guide_with_places(guide.pk)
        places = (loaded.brand.schema_name, loaded.brand.status, loaded.counter and loaded.counter.store.name,
                  loaded.counter and loaded.counter.brand.pk)

    assert len([q for q in queries.captured_queries if not q["sql"].startswith("SET ")]) == 1
    assert {f.attname: getattr(loaded, f.attname) for f in Guide._meta.concrete_fields} == {
        f.attname: getattr(expected, f.attname) for f in Guide._meta.concrete_fields}
    assert places == (expected.brand.schema_name, expected.brand.status,
                      expected.counter and expected.counter.store.name, expected.counter and brand_a.pk)
    assert loaded._state.adding is False and loaded._state.db == "default"


def test_an_unknown_guide_is_none(db):
    assert guide_with_places(987654321) is None


def test_a_session_is_read_from_redis_and_written_to_both(sidebar_as, brand_a, make_guide, clean_redis):  # noqa: F811
    from incentives import leaderboards

    me = make_guide(brand_a)
    leaderboards.bump(metric="sales", guide_id=me.pk, amount=1000)
    client = sidebar_as(me)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value

    assert _cached(key)[GUIDE_KEY] == client.session[GUIDE_KEY]
    with CaptureQueriesContext(connection) as queries:
        board = client.get("/sidebar/api/leaderboard/?metric=sales&period=today&scope=brand")
    assert board.status_code == 200 and board.json()["me"]["name"] == me.name
    assert not [q for q in queries.captured_queries if "django_session" in q["sql"]]
    # the board reads only the mall's tables: the request never switches to the brand's schema
    assert not [q for q in queries.captured_queries if brand_a.schema_name in q["sql"]]


def test_with_redis_down_the_sidebar_still_knows_the_guide(sidebar_as, brand_a, make_guide, settings):
    client = sidebar_as(make_guide(brand_a))

    _dead_session_cache(settings)

    response = client.get("/sidebar/")
    assert response.status_code == 200, response.content[:300]
    assert "sidebar/login" not in response.get("Location", "")


def test_signing_out_leaves_no_cached_copy_signed_in(sidebar_as, brand_a, make_guide):
    client = sidebar_as(make_guide(brand_a))
    key = client.cookies[settings.SESSION_COOKIE_NAME].value

    client.post("/sidebar/logout/")

    assert GUIDE_KEY not in (_cached(key) or {})
    assert client.get("/sidebar/api/leaderboard/?metric=sales&period=today&scope=brand").status_code == 401


def test_deleting_a_session_removes_the_cached_copy_first(sidebar_as, brand_a, make_guide, settings):
    client = sidebar_as(make_guide(brand_a))
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    from django.contrib.sessions.models import Session

    _dead_session_cache(settings)
    with pytest.raises(Exception):  # noqa: B017 (redis' ConnectionError): the sign-out fails, nothing changed
        SessionStore(session_key=key).delete()
    assert Session.objects.filter(session_key=key).exists()

    settings.CACHES = {**settings.CACHES, "sessions": {**settings.CACHES["sessions"],
                                                        "LOCATION": settings.REDIS_URL}}
    SessionStore(session_key=key).delete()
    assert not Session.objects.filter(session_key=key).exists() and _cached(key) is None
