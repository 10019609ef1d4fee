"""The brand dashboard's member pages: overview, list, search, pagination, detail, QR, isolation."""

import datetime as dt

import pytest

from guides.services import relationship_add
from members.models import CouponTemplate
from members.services import Profile, coupon_issue, points_earn

# The bounds below include the "SET search_path" django-tenants sends once per schema switch
# (TENANT_LIMIT_SET_CALLS); they do not grow with the rows.


def _member(enroll, brand, *, name, phone, **kwargs):
    return enroll(brand, phone=phone, profile=Profile(name=name), **kwargs).member


def test_overview_counts_this_brands_members_and_active_guides(lancome, brand_a, brand_b, enroll, make_guide):
    make_guide(brand_a, name="在职导购")
    make_guide(brand_a, name="离职导购", status="resigned")
    make_guide(brand_b)
    _member(enroll, brand_a, name="张三", phone="13800138000")
    _member(enroll, brand_a, name="王五", phone="13900139000")
    _member(enroll, brand_b, name="李四", phone="13700137000")

    response = lancome.get("/")

    assert response.status_code == 200
    assert response.context["members_total"] == 2
    assert response.context["members_new_7d"] == 2
    assert response.context["guides_active"] == 1
    assert [bm.member.name for bm in response.context["latest"]] == ["王五", "张三"]
    assert "李四" not in response.content.decode()


def test_member_list_shows_masked_phone_only_and_only_this_brands_members(lancome, brand_a, brand_b, enroll):
    mine = _member(enroll, brand_a, name="张三", phone="13800138000")
    theirs = _member(enroll, brand_b, name="李四", phone="13700137000")

    body = lancome.get("/members/").content.decode()

    assert mine.code in body and "138****8000" in body
    assert "13800138000" not in body and mine.phone_encrypted not in body
    assert theirs.code not in body and "李四" not in body


@pytest.mark.parametrize("query", [
    lambda member: member.code,
    lambda member: "138 0013 8000",
    lambda member: "张",
], ids=["member code", "phone", "name prefix"])
def test_search_finds_by_code_phone_or_name_prefix(lancome, brand_a, enroll, query):
    wanted = _member(enroll, brand_a, name="张三", phone="13800138000")
    other = _member(enroll, brand_a, name="王五", phone="13900139000")

    response = lancome.get("/members/", {"q": query(wanted)})

    assert [bm.member.code for bm in response.context["page"].items] == [wanted.code]
    assert other.code not in response.content.decode()


def test_search_never_finds_another_brands_member(lancome, brand_b, enroll):
    theirs = _member(enroll, brand_b, name="李四", phone="13700137000")

    response = lancome.get("/members/", {"q": theirs.code})

    assert response.context["page"].items == []
    assert "没有符合条件的会员" in response.content.decode()


def test_tag_filter(lancome, brand_a, enroll, in_schema):
    from members.brand.models import BrandMember

    tagged = _member(enroll, brand_a, name="张三", phone="13800138000")
    untagged = _member(enroll, brand_a, name="王五", phone="13900139000")
    with in_schema(brand_a.schema_name):
        BrandMember.objects.filter(member=tagged).update(tags=["VIP", "护肤"])

    response = lancome.get("/members/", {"tag": "VIP"})

    assert [bm.member.code for bm in response.context["page"].items] == [tagged.code]
    assert untagged.code not in response.content.decode()


def test_pagination_without_count(lancome, brand_a, enroll, django_assert_max_num_queries):
    for index in range(21):
        enroll(brand_a, unionid=f"union-{index}", profile=Profile(name=f"会员{index:02d}"))

    with django_assert_max_num_queries(8) as captured:
        first = lancome.get("/members/")
    second = lancome.get(first.context["next_url"])

    assert len(first.context["page"].items) == 20 and first.context["next_url"] == "/members/?page=2"
    assert first.context["previous_url"] == ""
    assert len(second.context["page"].items) == 1 and second.context["next_url"] == ""
    assert second.context["previous_url"] == "/members/"
    assert not any("COUNT(" in query["sql"].upper() for query in captured.captured_queries)


def test_pagination_keeps_the_search(lancome, brand_a, enroll):
    for index in range(21):
        enroll(brand_a, unionid=f"union-{index}", profile=Profile(name=f"张{index:02d}"))

    response = lancome.get("/members/", {"q": "张"})

    assert response.context["next_url"] == "/members/?q=%E5%BC%A0&page=2"


def test_overview_query_count_is_bounded(lancome, brand_a, enroll, django_assert_max_num_queries):
    for index in range(12):
        enroll(brand_a, unionid=f"union-{index}", profile=Profile(name=f"会员{index:02d}"))

    with django_assert_max_num_queries(12):
        response = lancome.get("/")

    assert len(response.context["latest"]) == 10


def test_detail_shows_mall_and_brand_membership(lancome, brand_a, make_guide, enroll, brand_coupon_template,
                                                in_schema, django_assert_max_num_queries):
    guide = make_guide(brand_a, name="小美")
    member = _member(enroll, brand_a, name="张三", phone="13800138000", guide=guide, channel="qr:counter")
    points_earn(member=member, amount=120, idempotency_key="order-1", brand=brand_a, reason="专柜消费 Counter sale")
    mall_template = CouponTemplate.objects.create(name="商场满300减50", kind="cash", value_cents=5000,
                                                  threshold_cents=30000, valid_days=30)
    coupon_issue(template=mall_template, member=member)
    brand_template = brand_coupon_template(brand_a, name="兰蔻8.5折券", kind="discount", discount_percent=85)
    with in_schema(brand_a.schema_name):
        coupon_issue(template=brand_template, member=member)

    with django_assert_max_num_queries(11):
        response = lancome.get(f"/members/{member.code}/")

    body = response.content.decode()
    assert response.status_code == 200
    assert member.code in body and "138****8000" in body and "13800138000" not in body
    assert response.context["member"].points_balance == 120 and "+120" in body and "专柜消费" in body
    assert "商场满300减50" in body and "¥50" in body and "已发放 Issued" in body
    assert "兰蔻8.5折券" in body and "8.5折" in body
    assert "小美" in body and "qr:counter" in body
    assert f'src="/members/{member.code}/qr.svg"' in body


def test_detail_hides_where_points_were_earned_at_another_brand(lancome, brand_a, brand_b, enroll):
    member = _member(enroll, brand_a, name="张三", phone="13800138000")
    enroll(brand_b, phone="13800138000")
    points_earn(member=member, amount=300, idempotency_key="nike-order-9", brand=brand_b, reason="耐克跑鞋 Nike order")

    body = lancome.get(f"/members/{member.code}/").content.decode()

    assert "+300" in body and "其他品牌 Other brand" in body
    assert "耐克跑鞋" not in body


def test_member_of_another_brand_only_is_404(lancome, brand_b, enroll):
    theirs = _member(enroll, brand_b, name="李四", phone="13700137000")

    detail = lancome.get(f"/members/{theirs.code}/")
    qr = lancome.get(f"/members/{theirs.code}/qr.svg")

    assert detail.status_code == 404 and "本品牌无此会员" in detail.content.decode()
    assert qr.status_code == 404


def test_member_of_both_brands_opens_on_both_domains(brand_client, lancome, brand_a, brand_b, make_user, enroll):
    member = _member(enroll, brand_a, name="张三", phone="13800138000")
    enroll(brand_b, phone="13800138000")
    nike = brand_client(brand_b, make_user("manager-b", "brand_manager", brand=brand_b))

    assert lancome.get(f"/members/{member.code}/").status_code == 200
    assert nike.get(f"/members/{member.code}/").status_code == 200


def test_qr_code_is_an_svg_of_the_member_code(lancome, brand_a, enroll):
    member = _member(enroll, brand_a, name="张三", phone="13800138000")

    response = lancome.get(f"/members/{member.code}/qr.svg")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response.content.startswith(b"<svg")
    assert member.code.encode() in response.content


def test_brand_pages_show_relationship_free_members_too(lancome, brand_a, make_guide, enroll):
    guide = make_guide(brand_a)
    member = _member(enroll, brand_a, name="张三", phone="13800138000", guide=guide)
    relationship_add(guide=guide, member=member, added_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))

    response = lancome.get("/members/")

    assert [bm.member.code for bm in response.context["page"].items] == [member.code]
