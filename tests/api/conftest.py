import pytest
from rest_framework.test import APIClient


@pytest.fixture
def api():
    """An API client on the mall host, authenticated as whoever the test says."""

    def make(*, key=None, user=None):
        client = APIClient(HTTP_HOST="localhost")
        if key:
            client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        if user:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def mall_key(db):
    from tenants.services import api_client_create

    return api_client_create(name="mall POS")[1]


@pytest.fixture
def key_for():
    from tenants.services import api_client_create

    return lambda brand: api_client_create(name=f"{brand.slug} POS", brand=brand)[1]
