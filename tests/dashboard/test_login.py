"""Who may sign in to a brand's dashboard, and what a suspended brand shows."""

import pytest
from django.contrib.auth import SESSION_KEY

from tenants.models import Brand
from tenants.services import brand_suspend

REFUSED = "此账号无权登录本品牌后台"


def _login(client, username, password="pass12345"):
    return client.post("/login/", {"username": username, "password": password})


def test_brand_manager_of_this_brand_signs_in(brand_client, brand_a, manager_a):
    client = brand_client(brand_a)

    response = _login(client, "manager-a")

    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("role", ["mall_admin", "mall_operator", "mall_analyst"])
def test_mall_staff_sign_in_when_the_brand_shares_everything(brand_client, brand_a, make_user, role):
    Brand.objects.filter(pk=brand_a.pk).update(sharing_policy="full")
    make_user("mall-staff", role)
    client = brand_client(brand_a)

    response = _login(client, "mall-staff")

    assert response.status_code == 302
    assert client.get("/members/").status_code == 200


@pytest.mark.parametrize("role", ["mall_admin", "mall_analyst"])
def test_mall_staff_are_refused_when_the_brand_shares_aggregates_only(brand_client, brand_a, make_user, role):
    make_user("mall-staff", role)
    client = brand_client(brand_a)

    response = _login(client, "mall-staff")

    assert response.status_code == 200
    assert REFUSED in response.content.decode()
    assert SESSION_KEY not in client.session


def test_manager_of_another_brand_is_refused(brand_client, brand_a, brand_b, make_user):
    make_user("manager-b", "brand_manager", brand=brand_b)
    client = brand_client(brand_a)

    response = _login(client, "manager-b")

    assert response.status_code == 200
    assert REFUSED in response.content.decode()
    assert SESSION_KEY not in client.session


def test_a_guide_account_is_refused(brand_client, brand_a, make_user, make_guide):
    make_user("guide-a", "guide", brand=brand_a, guide=make_guide(brand_a))
    client = brand_client(brand_a)

    response = _login(client, "guide-a")

    assert REFUSED in response.content.decode()
    assert SESSION_KEY not in client.session


def test_wrong_password_is_a_form_error(brand_client, brand_a, manager_a):
    client = brand_client(brand_a)

    response = _login(client, "manager-a", password="wrong-password")

    assert response.status_code == 200
    assert "用户名或密码不正确" in response.content.decode()


def test_a_session_replayed_on_another_brand_opens_nothing(brand_client, brand_a, brand_b, make_user):
    manager_b = make_user("manager-b", "brand_manager", brand=brand_b)
    client = brand_client(brand_a, manager_b)

    response = client.get("/members/")

    assert response.status_code == 403
    assert "无权访问本品牌后台" in response.content.decode()


def test_anonymous_visitor_is_sent_to_sign_in(brand_client, brand_a):
    response = brand_client(brand_a).get("/members/")

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/members/"


def test_sign_out(lancome):
    response = lancome.post("/logout/")

    assert response.status_code == 302 and response["Location"] == "/login/"
    assert SESSION_KEY not in lancome.session


@pytest.mark.parametrize("path", ["/login/", "/", "/members/", "/members/1234567897/", "/members/1234567897/qr.svg"])
def test_suspended_brand_shows_suspended_page_everywhere(lancome, brand_a, path):
    brand_suspend(brand=brand_a)

    response = lancome.get(path)

    assert response.status_code == 403
    assert "品牌已停用 · Brand suspended" in response.content.decode()


def test_suspended_brand_refuses_sign_in(brand_client, brand_a, manager_a):
    brand_suspend(brand=brand_a)
    client = brand_client(brand_a)

    response = _login(client, "manager-a")

    assert response.status_code == 403
    assert SESSION_KEY not in client.session


def test_an_analyst_is_shown_as_read_only(brand_client, brand_a, make_user):
    Brand.objects.filter(pk=brand_a.pk).update(sharing_policy="full")
    client = brand_client(brand_a, make_user("analyst", "mall_analyst"))

    body = client.get("/").content.decode()

    assert "只读 Read-only" in body
    assert body.count('method="post"') == 1  # the sign-out button is the only form that writes


def test_a_manager_moved_to_another_brand_loses_access_on_the_next_request(lancome, manager_a, brand_b):
    from tenants.models import StaffRole

    StaffRole.objects.filter(user=manager_a).update(brand=brand_b)

    assert lancome.get("/").status_code == 403
