"""Fixtures for the sidebar against the WeCom simulator over real HTTP: the platform on loopback, the simulator in
a thread, committed data (no django_db mark: see tests/e2e/conftest.py)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
import requests

from tests.e2e.conftest import guide_factory, platform_url, simulator, world  # noqa: F401  (fixtures)


@pytest.fixture
def wecom(simulator, settings):  # noqa: F811
    """The simulator, with the platform's OAuth authorize URL pointing at its authorize page."""
    settings.WECOM_OAUTH_AUTHORIZE_URL = f"{simulator.base_url}/connect/oauth2/authorize"
    return simulator


@pytest.fixture
def wecom_guide(wecom, guide_factory):  # noqa: F811
    """A guide in the platform's directory who is also a member of the (simulated) corp."""

    def make(slug: str = "lancome", name: str = "陈小美"):
        guide = guide_factory(slug, name=name)
        wecom.member(guide.wecom_userid, name=guide.name, silent=True)
        return guide

    return make


@pytest.fixture
def scanned(wecom):
    """A customer who scanned ``guide``'s code, after the platform processed the callback. -> euid."""

    def make(guide, name: str, state: str = "counter:A01") -> str:
        euid = wecom.customer(name)
        wecom.scan(euid, userid=guide.wecom_userid, state=state)
        assert wecom.wait_deliveries(timeout=20)
        return euid

    return make


class OAuthTrip:
    """A browser-like client going /sidebar/ -> WeCom's authorize page -> our callback."""

    def __init__(self, base_url: str):
        self.platform_url = base_url
        self.session = requests.Session()

    def authorize_url(self) -> str:
        start = self.session.get(f"{self.platform_url}/sidebar/", allow_redirects=False)
        assert start.status_code == 302, start.status_code
        return start.headers["Location"]

    def code_from_wecom(self, authorize_url: str, **who) -> str:
        """What WeCom's page redirects to, as ``who`` (userid= / openid= / external_userid=)."""
        url, _, _fragment = authorize_url.partition("#")
        answer = requests.get(f"{url}&{urlencode(who)}", allow_redirects=False, timeout=10)
        assert answer.status_code == 302, answer.text
        return answer.headers["Location"]

    def callback(self, url: str) -> requests.Response:
        return self.session.get(url, allow_redirects=False, timeout=10)

    def sign_in(self, **who) -> requests.Response:
        return self.callback(self.code_from_wecom(self.authorize_url(), **who))

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.session.get(f"{self.platform_url}{path}", timeout=10, **kwargs)


@pytest.fixture
def trip(platform_url):  # noqa: F811
    return lambda: OAuthTrip(platform_url)
