"""The guide sidebar H5: demo sign-in, my customers, one customer, and what a guide may not see."""

import datetime as dt

import pytest

from guides.models import Guide
from members.models import CouponTemplate
from members.services import coupon_issue, points_earn
from tenants.services import brand_suspend

# The bounds below include the "SET search_path" django-tenants sends once per schema switch
# (TENANT_LIMIT_SET_CALLS); they do not grow with the rows.


def test_demo_picker_lists_active_guides_grouped_by_brand(mall_client, brand_a, brand_b, make_guide):
    make_guide(brand_a, name="小美", userid="g-xiaomei")
    make_guide(brand_a, name="已离职", userid="g-left", status="resigned")
    make_guide(brand_b, name="阿杰", userid="g-ajie")

    body = mall_client.get("/sidebar/login/").content.decode()

    assert "选择导购" in body and "演示模式" in body
    assert 'data-testid="pick-g-xiaomei"' in body and 'data-testid="pick-g-ajie"' in body
    assert "g-left" not in body
    assert body.index("兰蔻 Lancôme") < body.index("pick-g-xiaomei") < body.index("耐克 Nike") < body.index("pick-g-ajie")
    assert "静安店 Jing&#x27;an" in body


def test_picking_a_guide_signs_in(sidebar_as, brand_a, make_guide):
    guide = make_guide(brand_a, name="小美")

    client = sidebar_as(guide)

    assert client.session["sidebar_guide_id"] == guide.pk
    assert "小美" in client.get("/sidebar/").content.decode()


def test_picking_a_resigned_guide_is_refused(mall_client, brand_a, make_guide):
    guide = make_guide(brand_a, status="resigned")

    response = mall_client.post("/sidebar/login/", {"guide_id": guide.pk}, follow=True)

    assert "sidebar_guide_id" not in mall_client.session
    assert "请选择一位在职导购" in response.content.decode()


def test_without_demo_mode_there_is_no_picker(settings, mall_client, brand_a, make_guide):
    settings.DEMO_MODE = False
    guide = make_guide(brand_a, name="小美")

    page = mall_client.get("/sidebar/login/")
    post = mall_client.post("/sidebar/login/", {"guide_id": guide.pk})

    assert "请从企业微信打开" in page.content.decode()
    assert 'name="guide_id"' not in page.content.decode() and "小美" not in page.content.decode()
    assert post.status_code == 403 and "sidebar_guide_id" not in mall_client.session


def test_anonymous_visitor_is_sent_to_wecom_oauth(db, mall_client, settings):
    response = mall_client.get("/sidebar/")

    assert response.status_code == 302
    assert response["Location"].startswith(settings.WECOM_OAUTH_AUTHORIZE_URL + "?appid=")


def test_my_customers_lists_only_the_guides_own_customers(sidebar_as, brand_a, brand_b, make_guide, customer):
    me = make_guide(brand_a, name="小美")
    colleague = make_guide(brand_a, name="小丽")
    mine = customer(me, name="张三", phone="13800138000", days_ago=3)
    colleagues = customer(colleague, name="王五", phone="13900139000")
    other_brand = customer(make_guide(brand_b), name="李四", phone="13700137000")

    response = sidebar_as(me).get("/sidebar/")

    body = response.content.decode()
    assert [rel.member.code for rel in response.context["page"].items] == [mine.code]
    assert "张三" in body and "138****8000" in body and "13800138000" not in body
    assert "第3天 · Day 3" in body
    assert colleagues.code not in body and other_brand.code not in body


def test_search_my_customers(sidebar_as, brand_a, make_guide, customer):
    me = make_guide(brand_a)
    wanted = customer(me, name="张三", phone="13800138000")
    customer(me, name="王五", phone="13900139000")

    response = sidebar_as(me).get("/sidebar/", {"q": "13800138000"})

    assert [rel.member.code for rel in response.context["page"].items] == [wanted.code]


def test_search_never_finds_a_colleagues_customer(sidebar_as, brand_a, make_guide, customer):
    me = make_guide(brand_a)
    colleagues = customer(make_guide(brand_a), name="王五", phone="13900139000")

    response = sidebar_as(me).get("/sidebar/", {"q": colleagues.code})

    assert response.context["page"].items == []


def test_my_customers_paginates_without_count(sidebar_as, brand_a, make_guide, customer,
                                              django_assert_max_num_queries):
    me = make_guide(brand_a)
    for index in range(21):
        customer(me, name=f"客户{index:02d}", phone="", unionid=f"union-{index}", days_ago=index)
    client = sidebar_as(me)

    with django_assert_max_num_queries(6) as captured:
        first = client.get("/sidebar/")
    second = client.get(first.context["next_url"])

    assert len(first.context["page"].items) == 20 and first.context["next_url"] == "/sidebar/?page=2"
    assert len(second.context["page"].items) == 1 and second.context["previous_url"] == "/sidebar/"
    assert not any("COUNT(" in query["sql"].upper() for query in captured.captured_queries)


def test_customer_detail_shows_mall_and_brand_side(sidebar_as, brand_a, make_guide, customer, in_schema,
                                                  django_assert_max_num_queries):
    from members.brand.models import BrandCouponTemplate

    me = make_guide(brand_a)
    member = customer(me, name="张三", phone="13800138000", days_ago=7)
    member.birthday = dt.date(1990, 5, 20)
    member.save(update_fields=["birthday"])
    points_earn(member=member, amount=880, idempotency_key="order-1", brand=brand_a)
    coupon_issue(template=CouponTemplate.objects.create(name="商场满300减50", kind="cash", value_cents=5000,
                                                        valid_days=30), member=member)
    with in_schema(brand_a.schema_name):
        template = BrandCouponTemplate.objects.create(name="兰蔻新客礼", kind="cash", value_cents=10000, valid_days=7)
        coupon_issue(template=template, member=member, guide=me)
    client = sidebar_as(me)

    with django_assert_max_num_queries(12):  # the 10th: "inherited from" (离职继承) on the card
        response = client.get(f"/sidebar/customers/{member.code}/")

    body = response.content.decode()
    assert response.status_code == 200
    assert response.context["member"].points_balance == 880
    assert "138****8000" in body and "13800138000" not in body and "05-20" in body
    assert "第7天 · Day 7" in body and "qr:counter" in body
    assert "兰蔻新客礼" in body and "¥100" in body and "商场满300减50" in body and "已发放 Issued" in body
    assert response.context["brand_member"].source_guide_id == me.pk


@pytest.mark.parametrize("owner", ["colleague", "other_brand"])
def test_someone_elses_customer_is_404(sidebar_as, brand_a, brand_b, make_guide, customer, owner):
    owners = {"colleague": make_guide(brand_a), "other_brand": make_guide(brand_b)}
    theirs = customer(owners[owner], name="王五", phone="13900139000")
    me = make_guide(brand_a)

    response = sidebar_as(me).get(f"/sidebar/customers/{theirs.code}/")

    assert response.status_code == 404
    assert "客户不存在" in response.content.decode()


def test_a_guide_who_resigned_is_signed_out(sidebar_as, brand_a, make_guide):
    me = make_guide(brand_a)
    client = sidebar_as(me)
    Guide.objects.filter(pk=me.pk).update(status="resigned", resigned_on=dt.date(2026, 1, 1))

    response = client.get("/sidebar/", follow=True)

    assert response.redirect_chain == [("/sidebar/login/", 302)]
    assert "您已离职" in response.content.decode()
    assert "sidebar_guide_id" not in client.session


def test_a_suspended_brand_signs_its_guides_out(sidebar_as, brand_a, make_guide):
    me = make_guide(brand_a)
    client = sidebar_as(me)
    brand_suspend(brand=brand_a)

    response = client.get("/sidebar/", follow=True)

    assert "品牌已停用" in response.content.decode()
    assert "sidebar_guide_id" not in client.session


def test_sign_out(sidebar_as, brand_a, make_guide):
    client = sidebar_as(make_guide(brand_a))

    response = client.post("/sidebar/logout/", follow=True)

    assert "sidebar_guide_id" not in client.session
    assert "已退出" in response.content.decode()


def test_requests_end_in_the_public_schema(sidebar_as, brand_a, make_guide, customer):
    from django.db import connection

    me = make_guide(brand_a)
    customer(me, name="张三", phone="13800138000")

    sidebar_as(me).get("/sidebar/")

    assert connection.schema_name == "public"

