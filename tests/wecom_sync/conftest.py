"""Fixtures for the WeCom live-code, group, tag and sync tests: the end-to-end world (committed rows,
the platform on loopback, the simulator calling back into it) plus a few helpers."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.e2e.conftest import guide_factory, platform_url, simulator, world  # noqa: F401  (fixtures)


@pytest.fixture
def wecom_guide(simulator, guide_factory):  # noqa: F811
    """A guide in the directory who is also a WeCom member in the simulator (no callback)."""

    def make(slug: str = "lancome", name: str = "陈小美"):
        guide = guide_factory(slug, name=name)
        simulator.member(guide.wecom_userid, name=name, silent=True)
        return guide

    return make


@pytest.fixture
def drain(simulator):  # noqa: F811
    """Wait until every callback the simulator queued has been delivered and processed."""

    def wait(timeout: float = 30) -> None:
        assert simulator.wait_deliveries(timeout=timeout)
        connection.set_schema_to_public()

    return wait
