"""The demo mall's incentives (part of ``manage.py seed_demo``): every demo guide's share links with a few
opens and likes, the rewards shop, star guides, and attributed orders (one partly refunded) so the
dashboards, the leaderboards and the sidebar show real movement.

Everything goes through the same services as real events (share links, the events ingest, order_paid,
order_refunded, the shop), never raw inserts, so points, commission, coins, counters and boards agree.
Idempotent: links by guide and target, events by event id, orders by order id (an order already there is
left alone), refunds by refund id, rewards by name, star guides by guide, the demo redemption by guide
and reward. A re-run creates nothing and writes no audit line.
"""

from __future__ import annotations

import datetime as dt
import logging
import random

from django.conf import settings
from django.db import transaction
from django_tenants.utils import schema_context

from guides.models import Guide
from tenants.models import Brand

from . import attribution, shop
from .models import Redemption, Reward, ShareLink, StarGuide

log = logging.getLogger(__name__)

SEED = 20240601
ORDERS_PER_GUIDE = (4, 3, 2, 1, 0)
REFUND_ID = "DEMO-RF-1"  # the first guide of each brand sells most: the boards have an order
AMOUNTS = [19900, 29900, 39900, 59900, 89900, 129900, 199900]
LINKS = [  # kind, target id, title, path on the mall's site
    ("product", "BEST-1", "{brand} 明星单品 Best seller", "/?sku=BEST-1"),
    ("live", "LIVE-1", "{brand} 今晚8点直播 Live tonight 8pm", "/?live=LIVE-1"),
    ("coupon", "WELCOME", "{brand} 入会礼券 Welcome coupon", "/?coupon=WELCOME"),
]
MALL_REWARDS = [  # name, description, kind, coin price, stock
    ("星巴克咖啡券 Starbucks coffee voucher", "任意中杯饮品一杯 One tall drink", "gift", 100, 500),
    ("商场停车月卡 Monthly parking pass", "员工停车场一个月 One month of staff parking", "benefit", 1200, 30),
    ("带薪休假半天 Half a day off", "与店长商定日期 Date agreed with the store manager", "benefit", 3000, 20),
    ("蓝牙耳机 Bluetooth earphones", "商场周年庆定制款 Mall anniversary edition", "gift", 5000, 10),
]
STARS = [  # (brand slug, guide number, headline, story)
    ("lancome", 0, "本月销冠 This month's top seller",
     "靠专属链接把直播间的顾客带到专柜，一周成交二十单。Brings live-stream viewers to the counter through her "
     "own links: twenty orders in a week."),
    ("nike", 0, "最佳新客 Most new customers",
     "跑步社群的群主，每个周末带顾客夜跑。Runs the counter's running group and takes customers on weekend runs."),
]


def seed_incentives(*, brands: list[Brand], guides: dict[int, list[Guide]], now: dt.datetime, created) -> None:
    """Create whatever of the demo incentives is missing (inside the seed's transaction)."""
    _rewards(brands, created)
    for brand in brands:
        brand_guides = [g for g in guides.get(brand.pk, []) if g.status == "active"]
        links = _links(brand, brand_guides, created)
        _events(brand, links, now, created)
        _orders(brand, brand_guides, links, now, created)
    _stars(brands, guides, created)
    _redemptions(brands, guides, created)
    # Redis is a cache: after a restart of the demo the boards are rebuilt from the orders
    transaction.on_commit(_rebuild_boards)


def _rebuild_boards() -> None:
    from .leaderboards import leaderboards_rebuild

    try:
        leaderboards_rebuild()
    except Exception:  # no Redis now: the boards fill again with the next events
        log.warning("incentives.demo_boards_not_rebuilt", exc_info=True)


def _rewards(brands: list[Brand], created) -> None:
    wanted = [(None, name, description, kind, price, stock) for name, description, kind, price, stock in MALL_REWARDS]
    wanted += [(brand, f"{brand.name} 员工内购券 Staff purchase voucher", "本品牌正价商品8折 20% off at the brand",
                "benefit", 200, 50) for brand in brands]
    have = set(Reward.objects.filter(name__in=[w[1] for w in wanted]).values_list("brand_id", "name"))
    missing = [Reward(brand=brand, name=name, description=description, kind=kind, coin_price=price, stock=stock)
               for brand, name, description, kind, price, stock in wanted
               if (brand.pk if brand else None, name) not in have]
    Reward.objects.bulk_create(missing)
    created["rewards"] += len(missing)


def _links(brand: Brand, guides: list[Guide], created) -> dict[int, list[ShareLink]]:
    have = set(ShareLink.objects.filter(guide__in=guides).values_list("guide_id", "kind", "target_id"))
    links: dict[int, list[ShareLink]] = {}
    for guide in guides:
        for kind, target_id, title, path in LINKS:
            if (guide.pk, kind, target_id) not in have:
                created["share links"] += 1
            links.setdefault(guide.pk, []).append(attribution.share_link_create(
                guide=guide, kind=kind, target_id=target_id, title=title.format(brand=brand.name.split()[0]),
                target_url=f"{settings.PUBLIC_BASE_URL}{path}"))
    return links


def _events(brand: Brand, links: dict[int, list[ShareLink]], now: dt.datetime, created) -> None:
    """Opens, likes and add-to-carts from anonymous visitors over the last days (more on the first links)."""
    events = []
    for number, guide_links in enumerate(links.values()):
        for link in guide_links:
            rng = random.Random(f"{SEED}:share-events:{link.guide.wecom_userid}:{link.target_id}")
            for visitor in range(rng.randint(2, max(2, 12 - 2 * number))):
                at = now - dt.timedelta(hours=rng.uniform(0.2, 72))
                for kind, chance in (("view", 1.0), ("like", 0.4), ("add_to_cart", 0.2)):
                    if rng.random() < chance:
                        events.append(attribution.ShareEventIn(
                            event_id=f"demo:{link.code}:{visitor}:{kind}", kind=kind, share_code=link.code,
                            visitor=f"demo-{link.code}-{visitor}", at=at))
    for start in range(0, len(events), attribution.MAX_BATCH):
        results = attribution.share_events_ingest(events=events[start:start + attribution.MAX_BATCH],
                                                  brand_id=brand.pk, source="demo")
        created["share events"] += sum(1 for result in results if not result.replayed)


def _orders(brand: Brand, guides: list[Guide], links: dict[int, list[ShareLink]], now: dt.datetime,
            created) -> None:
    """Orders through the guides' links and from their own customers, the newest today; one partly refunded."""
    from guides.brand.models import Relationship

    from .brand.models import Order

    wanted = [(guide, n) for guide, count in zip(guides, ORDERS_PER_GUIDE, strict=False) for n in range(count)]
    with schema_context(brand.schema_name):
        have = set(Order.objects.filter(order_id__startswith="DEMO-").values_list("order_id", flat=True))
        customers = {}
        for guide in guides:
            customers[guide.pk] = list(Relationship.objects.filter(guide=guide, status="active")
                                       .order_by("member_id").values_list("member__code", flat=True)[:10])
    for guide, n in wanted:
        order_id = f"DEMO-{guide.wecom_userid}-{n + 1}"
        if order_id in have:  # never touch an order already there (it may have been refunded since)
            continue
        rng = random.Random(f"{SEED}:order:{order_id}")
        # the first order of each guide today, the others over the past days, in opening hours
        paid_at = now - dt.timedelta(minutes=rng.randint(3, 90)) if n == 0 else _shop_hours(
            now - dt.timedelta(days=n + rng.randint(0, 3)), rng)
        mine = customers[guide.pk]
        member = mine[n % len(mine)] if mine else ""
        through_link = n % 3 != 2 or not member  # every third order comes from the guide's own customer
        token = ""
        if through_link:
            link = links[guide.pk][n % len(links[guide.pk])]
            token = attribution.share_token_make(link, at=paid_at - dt.timedelta(minutes=rng.randint(2, 120)))
        attribution.order_paid(brand=brand, order_id=order_id, amount_cents=rng.choice(AMOUNTS), paid_at=paid_at,
                               channel="mini_program" if through_link else "pos", member_code=member,
                               share_token=token, actor="command:seed_demo")
        created["orders"] += 1
    if wanted:  # a customer sends back part of the first guide's second order
        _partial_refund(brand, f"DEMO-{wanted[0][0].wecom_userid}-2", created)


def _partial_refund(brand: Brand, order_id: str, created) -> None:
    from .brand.models import Order, OrderRefund

    with schema_context(brand.schema_name):
        order = Order.objects.filter(order_id=order_id).first()
        done = order is None or OrderRefund.objects.filter(order=order, refund_id=REFUND_ID).exists()
    amount = max(1, order.amount_cents // 3) if order is not None else 0
    if done or order.amount_cents - order.refunded_cents < amount:  # refunded meanwhile in the demo: leave it
        return
    attribution.order_refunded(brand=brand, order_id=order_id, refund_id=REFUND_ID, amount_cents=amount,
                               refunded_at=order.paid_at + dt.timedelta(hours=2), actor="command:seed_demo")
    created["refunds"] += 1


def _shop_hours(day: dt.datetime, rng: random.Random) -> dt.datetime:
    from django.utils import timezone

    local = timezone.localtime(day).replace(hour=10, minute=0, second=0, microsecond=0)
    return local + dt.timedelta(minutes=rng.randint(30, 11 * 60))


def _stars(brands: list[Brand], guides: dict[int, list[Guide]], created) -> None:
    by_slug = {brand.slug: brand for brand in brands}
    for position, (slug, number, headline, story) in enumerate(STARS):
        brand = by_slug.get(slug)
        brand_guides = guides.get(brand.pk, []) if brand else []
        if number < len(brand_guides):
            _star, made = StarGuide.objects.get_or_create(
                guide=brand_guides[number], defaults={"headline": headline, "story": story, "position": position})
            created["star guides"] += made


def _redemptions(brands: list[Brand], guides: dict[int, list[Guide]], created) -> None:
    """The top guide of each brand asks for the brand's staff voucher: the brand dashboard has one to approve."""
    from .models import GuideBalance

    vouchers = {reward.brand_id: reward for reward in Reward.objects.filter(
        brand__in=brands, name__endswith="员工内购券 Staff purchase voucher")}
    for brand in brands:
        brand_guides, reward = guides.get(brand.pk, []), vouchers.get(brand.pk)
        if not brand_guides or reward is None or reward.stock == 0:
            continue
        guide = brand_guides[0]
        if Redemption.objects.filter(guide=guide, reward=reward).exists():
            continue
        coins = GuideBalance.objects.filter(guide=guide).values_list("coins", flat=True).first() or 0
        if coins >= reward.coin_price:
            shop.reward_redeem(guide=guide, reward_id=reward.pk)
            created["redemptions"] += 1
