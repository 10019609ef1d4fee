"""A full sync per corp: the mall's corp from settings, a brand's own corp from the admin (secret
decrypted), each mapped only to its own part of the guide directory."""

import io

import pytest
from django.core.management import CommandError, call_command

from members.identity import encrypt
from wecom import sync
from wecom.models import Corp, SyncRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def nike_corp(brand_b):
    return Corp.objects.create(corp_id="ww-nike-own", name="耐克企业微信", brand=brand_b,
                               secret_encrypted=encrypt("nike-contact-secret"))


def test_a_brand_corp_gets_its_own_client_with_the_decrypted_secret(nike_corp, settings):
    client = sync.corp_client("ww-nike-own")
    mall = sync.corp_client(settings.WECOM_CORP_ID)

    assert (client.corp_id, client.secret) == ("ww-nike-own", "nike-contact-secret")
    assert (mall.corp_id, mall.secret) == (settings.WECOM_CORP_ID, settings.WECOM_SECRET)


def test_each_corp_maps_only_to_its_own_guides(nike_corp, brand_a, brand_b, make_guide, settings):
    lancome_guide, nike_guide = make_guide(brand_a, userid="g-l"), make_guide(brand_b, userid="g-n")

    mall = set(sync.corp_directory(settings.WECOM_CORP_ID).values_list("wecom_userid", flat=True))
    nike = set(sync.corp_directory("ww-nike-own").values_list("wecom_userid", flat=True))

    assert lancome_guide.wecom_userid in mall and nike_guide.wecom_userid not in mall
    assert nike == {nike_guide.wecom_userid}


def test_unknown_corp_is_refused_before_a_run_is_created():
    runs_before = SyncRun.objects.count()

    with pytest.raises(CommandError, match="--corp: No WeCom corp ww-nobody"):
        call_command("wecom_sync", "--corp", "ww-nobody", stdout=io.StringIO())

    assert SyncRun.objects.count() == runs_before
