"""Incentive fixtures: API clients per integration, a share link, and a member with a current guide."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from tests.api.conftest import api, key_for, mall_key  # noqa: F401 (fixtures)
from tests.dashboard.conftest import brand_client, lancome, manager_a  # noqa: F401 (fixtures)
from tests.sidebar.conftest import mall_client, sidebar_as  # noqa: F401 (fixtures)

SH = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A moment in November 2026, Asia/Shanghai (Nov 23 is a Monday)."""
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=SH)


@pytest.fixture
def link_for():
    from incentives.attribution import share_link_create

    def make(guide, *, target_id="SKU-1", kind="product", title="小黑瓶精华 Advanced Génifique",
             target_url="https://shop.example.com/p/1?from=wx"):
        return share_link_create(guide=guide, kind=kind, target_id=target_id, title=title, target_url=target_url)

    return make


@pytest.fixture
def token_for():
    from incentives.attribution import share_token_make

    return lambda link, when: share_token_make(link, at=when)


@pytest.fixture
def clean_redis():
    """Boards and feeds of this Redis db start empty (tests run with their own REDIS_URL db)."""
    from incentives.feed import redis_client

    client = redis_client()

    def wipe():
        for pattern in ("scrm:lb:*", "scrm:feed:*"):
            for key in client.scan_iter(pattern):
                client.delete(key)

    wipe()
    yield client
    wipe()
