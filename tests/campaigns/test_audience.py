"""Who a campaign reaches: all guides, brands, stores or counters; a brand's campaign only its own guides;
never a guide who resigned. The guide's own list agrees with the audience."""

from __future__ import annotations

import pytest
from django.utils import timezone

from scrm.errors import AppError
from tasks.mall import selectors, services

pytestmark = pytest.mark.django_db


def _names(campaign):
    return sorted(selectors.audience_guides(campaign).values_list("name", flat=True))


@pytest.mark.parametrize(("audience", "picks", "expected"), [
    ("all", {}, ["李安妮", "王尼克", "赵流动", "陈小美"]),
    ("brands", {"brand_ids": ["brand_b"]}, ["王尼克"]),
    ("stores", {"store_ids": ["jingan"]}, ["王尼克", "陈小美"]),
    ("counters", {"counter_ids": ["a_xuhui", "b_jingan"]}, ["李安妮", "王尼克"]),
])
def test_a_mall_campaign_reaches_its_audience_and_nobody_who_resigned(world, brand_b, make_campaign, audience, picks,
                                                                        expected):
    things = {"brand_b": brand_b, **vars(world)}
    campaign = make_campaign(audience=audience, **{key: [things[n].pk for n in names] for key, names in picks.items()})

    assert _names(campaign) == expected


@pytest.mark.parametrize(("audience", "picks", "expected"), [
    ("all", {}, ["李安妮", "赵流动", "陈小美"]),
    ("stores", {"store_ids": ["jingan"]}, ["陈小美"]),  # Nike's guide at 静安 is not Lancôme's to reach
    ("counters", {"counter_ids": ["a_jingan"]}, ["陈小美"]),
])
def test_a_brand_campaign_reaches_only_the_brands_own_guides(world, brand_a, make_campaign, audience, picks, expected):
    campaign = make_campaign(brand_a, audience=audience,
                             **{key: [getattr(world, n).pk for n in names] for key, names in picks.items()})

    assert _names(campaign) == expected


def test_a_brand_cannot_aim_at_other_brands_or_their_counters(world, brand_a, brand_b):
    cases = [dict(audience="brands", brand_ids=[brand_b.pk]), dict(audience="counters", counter_ids=[world.b_jingan.pk]),
             dict(audience="stores", store_ids=[])]
    problems = []
    for case in cases:
        with pytest.raises(AppError) as error:
            services.campaign_validate(owner=brand_a, **{**_valid(), **case})
        problems.append(error.value.fields)

    assert [sorted(fields) for fields in problems] == [["audience"], ["counters"], ["stores"]]
    assert problems[0]["audience"][0].startswith("品牌活动只面向本品牌导购")


def _valid():
    from tests.campaigns.conftest import campaign_settings

    return campaign_settings()


def test_each_guide_sees_the_campaigns_that_reach_them(world, brand_a, brand_b, make_campaign):
    mall_all = make_campaign(title="全场")
    mall_xuhui = make_campaign(title="徐汇店", audience="stores", store_ids=[world.xuhui.pk])
    lancome = make_campaign(brand_a, title="兰蔻")
    nike = make_campaign(brand_b, title="耐克")
    make_campaign(title="草稿", publish=False)

    def titles(guide):
        lists = selectors.guide_campaigns(guide=guide, now=timezone.now())
        return sorted(c.title for c in lists["claimable"])

    assert titles(world.ana) == sorted([mall_all.title, lancome.title])
    assert titles(world.amy) == sorted([mall_all.title, mall_xuhui.title, lancome.title])
    assert titles(world.nick) == sorted([mall_all.title, nike.title])
    assert titles(world.floater) == sorted([mall_all.title, lancome.title])  # no counter: all-guides only


def test_validation_names_every_problem_chinese_first(world):
    valid = _valid()
    with pytest.raises(AppError) as error:
        services.campaign_validate(owner=None, **{**valid, "title": " ", "ends_at": valid["starts_at"], "target": 0,
                                                 "reward_coins": 0, "reward_exp": 0, "top_n": 3})

    fields = error.value.fields
    assert sorted(fields) == ["ends_at", "reward_coins", "target", "title", "top_coins"]
    assert fields["ends_at"] == ["结束时间须晚于开始时间 The end must be after the start."]
    assert all(ord(message[0]) > 0x2E80 for messages in fields.values() for message in messages)
