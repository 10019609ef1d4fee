"""The mall landing page on the mall host."""

from django.test import Client

from tenants.services import brand_suspend


def test_mall_home_links_admin_api_sidebar_and_each_brand_dashboard(brand_a, brand_b):
    brand_suspend(brand=brand_b)

    body = Client(HTTP_HOST="localhost:8000").get("/", SERVER_PORT="8000").content.decode()

    assert 'href="/admin/"' in body and 'href="/api/docs/"' in body and 'href="/sidebar/"' in body
    assert 'href="http://lancome.localhost:8000/"' in body
    assert 'href="http://nike.localhost:8000/"' in body
    assert "停用 Suspended" in body and "营业 Active" in body
