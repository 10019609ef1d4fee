"""The sidebar against the WeCom simulator over real HTTP (fixtures in fixtures.py, shared with the
browser test)."""

from tests.sidebar_wecom.fixtures import (  # noqa: F401  (fixtures)
    guide_factory,
    platform_url,
    scanned,
    simulator,
    trip,
    wecom,
    wecom_guide,
    world,
)
