import datetime as dt
import uuid

import pytest

from tests.live import committed, live_server


@pytest.fixture
def world(django_db_setup, django_db_blocker):
    """Committed rows, removed after the test."""
    with committed(django_db_blocker):
        yield django_db_blocker


@pytest.fixture
def platform_url(world):
    with live_server() as url:
        yield url


@pytest.fixture
def simulator(platform_url, settings):
    """The WeCom simulator, calling back into the live platform; the platform calls it."""
    from scrm.health import _redis
    from wecom.simulator import SimConfig, start_in_thread
    from wecom.simulator.client import SimulatorControl

    config = SimConfig(port=0, callback_url=f"{platform_url}/wecom/callback/", callback_retry_interval=0.2,
                       corp_id=settings.WECOM_CORP_ID, corp_secret=settings.WECOM_SECRET,
                       agent_id=settings.WECOM_AGENT_ID, agent_secret=settings.WECOM_AGENT_SECRET,
                       token=settings.WECOM_TOKEN, aes_key=settings.WECOM_AES_KEY)
    base_url, sim = start_in_thread(config)
    settings.WECOM_API_BASE = sim.api_base_url
    for key in _redis().scan_iter("scrm:wecom:*"):
        _redis().delete(key)  # tokens of an earlier simulator instance
    try:
        yield SimulatorControl(base_url)
    finally:
        sim.stop()


@pytest.fixture
def guide_factory(world):
    """Guides committed in the platform's directory (and, with the simulator, as WeCom members)."""
    from guides.models import Guide
    from tenants.models import Brand, Counter, Store

    store = Store.objects.create(code=f"E{uuid.uuid4().hex[:6]}", name="静安店", city="上海", address="南京西路1618号",
                                 latitude="31.229", longitude="121.446")

    def make(slug: str, name: str = "陈小美"):
        brand = Brand.objects.get(slug=slug)
        counter, _ = Counter.objects.get_or_create(brand=brand, store=store,
                                                   defaults={"code": f"{store.code}-{slug}", "name": f"{brand.name}专柜"})
        return Guide.objects.create(wecom_userid=f"g-{uuid.uuid4().hex[:10]}", name=name, brand=brand,
                                    counter=counter, hired_on=dt.date(2025, 1, 1))

    return make
