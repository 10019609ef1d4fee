"""getCurExternalContact's userId -> the guide's customer, over real HTTP after a real scan and a real
OAuth sign-in: a guide only ever reaches their own customers."""

from members.models import Member, MemberExternalId


def _code(euid: str) -> str:
    return Member.objects.get(pk=MemberExternalId.objects.get(external_userid=euid).member_id).code


def test_the_chat_customer_opens_only_for_their_own_guide(wecom, wecom_guide, scanned, trip):
    me, colleague, other_brand = wecom_guide(), wecom_guide(name="王丽"), wecom_guide("nike", name="王强")
    mine = scanned(me, "李雷")
    colleagues = scanned(colleague, "韩梅梅")
    other_brands = scanned(other_brand, "赵敏")
    stranger = wecom.customer("路人甲")  # a WeCom contact the platform never enrolled
    browser = trip()
    browser.sign_in(userid=me.wecom_userid)

    def resolve(euid):
        return browser.get("/sidebar/api/contact/", params={"external_userid": euid})

    own = resolve(mine)
    assert own.status_code == 200
    assert own.json()["url"] == f"/sidebar/customers/{_code(mine)}/" and own.json()["name"] == "李雷"
    for theirs in (colleagues, other_brands, stranger):
        refused = resolve(theirs)
        assert refused.status_code == 404 and refused.json()["code"] == "customer_not_found"
    assert browser.get(f"/sidebar/customers/{_code(colleagues)}/").status_code == 404


def test_a_customer_who_deleted_the_guide_no_longer_resolves(wecom, wecom_guide, scanned, trip):
    me = wecom_guide()
    mine = scanned(me, "李雷")
    browser = trip()
    browser.sign_in(userid=me.wecom_userid)

    wecom.customer_deletes_member(mine, me.wecom_userid)
    assert wecom.wait_deliveries(timeout=20)

    assert browser.get("/sidebar/api/contact/", params={"external_userid": mine}).status_code == 404
