"""The brand dashboard's tasks page lists this brand's newbies and their progress, no other brand's."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(make_user):
    from django.test import Client

    def make(brand):
        user = make_user(f"nb-manager-{brand.slug}", "brand_manager", brand=brand)
        client = Client(HTTP_HOST=f"{brand.slug}.localhost")
        client.force_login(user)
        return client

    return make


def test_the_tasks_page_shows_my_brands_newbies_only(brand_a, brand_b, newbie, make_guide, share_link,
                                                    manager_client):
    from tasks.newbie.services import newbie_refresh

    ours, theirs = newbie(brand_a, name="兰蔻新人"), newbie(brand_b, name="耐克新人")
    veteran = make_guide(brand_a, name="兰蔻老将")
    share_link(ours)
    newbie_refresh(brand=brand_a)

    body = manager_client(brand_a).get("/tasks/").content.decode()

    assert 'data-testid="newbies"' in body
    assert f'data-testid="newbie-row-{ours.pk}"' in body and "兰蔻新人" in body
    assert "耐克新人" not in body and f"newbie-row-{theirs.pk}" not in body
    assert f"newbie-row-{veteran.pk}" not in body
    row = body[body.index(f'data-testid="newbie-row-{ours.pk}"'):]
    row = row[:row.index("</tr>")]
    assert "1/5" in row and "设置朋友圈封面" in row  # the next step
