"""The demo mall (``manage.py seed_demo``): stores, brands, counters, guides, staff logins, an API
key, and members with brand memberships, guide relationships, points ledgers and coupons.

Deterministic: every member is drawn from its own generator seeded by (SEED, index), so member
#17 is the same person whether 200 or 5,000 are seeded. Times are relative to the moment of
seeding (joins, purchases and coupons look recent whenever the demo is started).

Idempotent: every row has a natural key (store code, brand slug, counter code, WeCom userid,
username, member code, coupon code, points idempotency key). A re-run inserts only what is
missing and never updates an existing row, so balances, tiers and coupons that changed while
the demo ran stay as they are. Everything happens in one transaction: all or nothing.

Fast: the ledgers are computed in Python (the same rules as ``members.services``: oldest lots
first, expiry at the end of the lot's day by the hourly job, tiers from rolling 12-month
points) and written with COPY, with ids reserved from the sequences up front so rows can refer
to each other. No per-member ``save()`` and no per-member service call.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import random
import unicodedata
from collections import Counter as Tally
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django_tenants.utils import schema_context

from guides.models import Guide
from members.identity import encrypt, lookup_hash, member_code_is_valid, phone_mask
from members.models import (
    Coupon,
    CouponKind,
    CouponState,
    CouponTemplate,
    Gender,
    Member,
    MemberExternalId,
    PointsEntry,
    PointsKind,
    TierChange,
    TierRule,
)
from members.services import COUPON_ALPHABET, default_expiry
from tenants.models import ApiClient, Brand, BrandCategory, Counter, Role, StaffRole, Store
from tenants.services import api_client_create, audit, brand_onboard

SEED = 20240601
DEFAULT_MEMBERS = 5000
GUIDES_PER_BRAND = 5
NEWBIE_HIRED_DAYS_AGO = 5

DEMO_API_KEY = "sk_demo0000_mall-pos-demo-key"
DEMO_API_CLIENT = "商场POS演示 Mall POS (demo)"
ADMIN_LOGIN = ("admin", "admin12345")
STAFF_PASSWORD = "demo12345"
MALL_LOGINS = [("operator", Role.MALL_OPERATOR), ("analyst", Role.MALL_ANALYST)]

# --------------------------------------------------------------------------- the fixed catalogue

_WEEKEND_LATE = {**{d: ["10:00", "22:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
                 "sat": ["10:00", "22:30"], "sun": ["10:00", "22:30"]}

STORES = [
    dict(code="SH-JA", name="静安店 Jing'an", city="上海", address="上海市静安区南京西路1618号",
         latitude="31.224190", longitude="121.446320"),
    dict(code="SH-XJH", name="徐家汇店 Xujiahui", city="上海", address="上海市徐汇区虹桥路1号",
         latitude="31.194560", longitude="121.437460", opening_hours=_WEEKEND_LATE),
    dict(code="HZ-WL", name="武林店 Wulin", city="杭州", address="浙江省杭州市拱墅区延安路530号",
         latitude="30.272760", longitude="120.163980"),
]

ALL_STORES = ("SH-JA", "SH-XJH", "HZ-WL")
BRANDS = [
    # name, English name, slug, category, stores with a counter, weight (share of members)
    ("兰蔻", "Lancôme", "lancome", BrandCategory.COSMETICS, ALL_STORES, 16),
    ("雅诗兰黛", "Estée Lauder", "esteelauder", BrandCategory.COSMETICS, ALL_STORES, 14),
    ("优衣库", "Uniqlo", "uniqlo", BrandCategory.APPAREL, ALL_STORES, 16),
    ("太平鸟", "Peacebird", "peacebird", BrandCategory.APPAREL, ("SH-JA", "HZ-WL"), 10),
    ("耐克", "Nike", "nike", BrandCategory.SHOES, ALL_STORES, 15),
    ("安踏", "Anta", "anta", BrandCategory.SHOES, ("SH-XJH", "HZ-WL"), 11),
    ("巴拉巴拉", "Balabala", "balabala", BrandCategory.KIDS, ("SH-XJH", "HZ-WL"), 10),
    ("好孩子", "Goodbaby", "goodbaby", BrandCategory.KIDS, ("SH-JA", "SH-XJH"), 8),
]
FLOORS = {BrandCategory.COSMETICS: "1F", BrandCategory.APPAREL: "3F", BrandCategory.SHOES: "4F",
          BrandCategory.KIDS: "5F"}

# Purchase behaviour per category: chance of a purchase in a 30-day window, points (= yuan) range.
PURCHASE = {BrandCategory.COSMETICS: (0.30, 300, 3000), BrandCategory.APPAREL: (0.35, 150, 1200),
            BrandCategory.SHOES: (0.22, 400, 1500), BrandCategory.KIDS: (0.30, 150, 900)}
# Share of women among the members a category attracts (kids: mostly the mothers).
FEMALE_SHARE = {BrandCategory.COSMETICS: 0.85, BrandCategory.APPAREL: 0.6, BrandCategory.SHOES: 0.4,
                BrandCategory.KIDS: 0.75}
TAGS = {
    BrandCategory.COSMETICS: ["敏感肌", "抗老", "美白", "彩妆控", "香水", "护肤新手"],
    BrandCategory.APPAREL: ["通勤", "休闲", "大码", "基础款", "新品控"],
    BrandCategory.SHOES: ["跑步", "篮球", "潮流", "训练", "户外"],
    BrandCategory.KIDS: ["0-3岁", "3-6岁", "6-12岁", "二胎家庭", "学生装"],
}
COMMON_TAGS = ["高潜", "VIP", "沉睡唤醒", "直播常客"]
NOTES = ["偏好小样，周末到店", "生日在月底，提前三天提醒", "对价格敏感，活动时联系", "老客户，喜欢新品首发",
         "下班后方便联系", "喜欢到店试用", "家住附近，可邀约到店", "关注会员日活动"]
CHANNELS = [("qr:counter", 55), ("qr:poster", 15), ("live", 10), ("miniprogram", 10), ("pos", 10)]

SURNAMES = [
    ("王", "wang", 72), ("李", "li", 70), ("张", "zhang", 66), ("刘", "liu", 54), ("陈", "chen", 45),
    ("杨", "yang", 31), ("黄", "huang", 23), ("赵", "zhao", 21), ("吴", "wu", 20), ("周", "zhou", 20),
    ("徐", "xu", 17), ("孙", "sun", 15), ("马", "ma", 15), ("朱", "zhu", 14), ("胡", "hu", 13),
    ("郭", "guo", 12), ("何", "he", 12), ("高", "gao", 11), ("林", "lin", 11), ("罗", "luo", 10),
    ("郑", "zheng", 10), ("梁", "liang", 9), ("谢", "xie", 8), ("宋", "song", 7), ("唐", "tang", 7),
    ("许", "xu", 7), ("韩", "han", 6), ("冯", "feng", 6), ("邓", "deng", 6), ("曹", "cao", 6),
    ("彭", "peng", 5), ("曾", "zeng", 5), ("肖", "xiao", 5), ("田", "tian", 5), ("董", "dong", 5),
    ("袁", "yuan", 4), ("潘", "pan", 4), ("蒋", "jiang", 4), ("蔡", "cai", 4), ("余", "yu", 4),
    ("杜", "du", 4), ("叶", "ye", 4), ("程", "cheng", 4), ("苏", "su", 4), ("魏", "wei", 4),
    ("吕", "lv", 4), ("丁", "ding", 3), ("任", "ren", 3), ("沈", "shen", 3), ("姚", "yao", 3),
    ("卢", "lu", 3), ("钟", "zhong", 3), ("陆", "lu", 3), ("汪", "wang", 3), ("金", "jin", 3),
]
FEMALE_GIVEN = [
    ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"), ("艳", "yan"), ("婷", "ting"),
    ("雪", "xue"), ("颖", "ying"), ("琳", "lin"), ("洁", "jie"), ("慧", "hui"), ("倩", "qian"), ("晶", "jing"),
    ("燕", "yan"), ("玲", "ling"), ("欣", "xin"), ("怡", "yi"), ("佳", "jia"), ("悦", "yue"), ("梦", "meng"),
    ("雨", "yu"), ("诗", "shi"), ("涵", "han"), ("琪", "qi"), ("萱", "xuan"), ("妍", "yan"), ("晓", "xiao"),
    ("思", "si"), ("可", "ke"), ("馨", "xin"), ("彤", "tong"), ("菲", "fei"), ("薇", "wei"), ("月", "yue"),
]
MALE_GIVEN = [
    ("伟", "wei"), ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"), ("勇", "yong"), ("杰", "jie"),
    ("涛", "tao"), ("明", "ming"), ("超", "chao"), ("刚", "gang"), ("平", "ping"), ("辉", "hui"), ("鹏", "peng"),
    ("华", "hua"), ("飞", "fei"), ("鑫", "xin"), ("波", "bo"), ("宇", "yu"), ("浩", "hao"), ("凯", "kai"),
    ("健", "jian"), ("俊", "jun"), ("帆", "fan"), ("旭", "xu"), ("宁", "ning"), ("龙", "long"), ("阳", "yang"),
    ("博", "bo"), ("文", "wen"), ("斌", "bin"), ("哲", "zhe"), ("睿", "rui"), ("轩", "xuan"), ("然", "ran"),
]
PHONE_PREFIXES = ["130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152",
                  "153", "155", "156", "157", "158", "159", "166", "177", "180", "181", "182", "183", "185",
                  "186", "187", "188", "189", "191", "199"]
ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

# Mall coupon templates: key -> fields. The anniversary campaign runs in a window around seeding.
MALL_TEMPLATES = {
    "new-member": dict(name="新会员礼 ¥20（满200可用）New member ¥20 off ¥200", kind=CouponKind.CASH,
                       value_cents=2000, threshold_cents=20000, valid_days=30),
    "birthday": dict(name="会员生日 8.5折 Birthday 15% off", kind=CouponKind.DISCOUNT, discount_percent=85,
                     valid_days=30),
    "anniversary": dict(name="周年庆 满1000减100 Anniversary ¥100 off ¥1,000", kind=CouponKind.CASH,
                        value_cents=10000, threshold_cents=100000, stock=50000),
}
ANNIVERSARY_WINDOW = (dt.timedelta(days=-45), dt.timedelta(days=15))


def brand_templates(brand_name: str) -> dict[str, dict]:
    return {
        "welcome": dict(name=f"{brand_name} 入会礼 ¥50（满300可用）Welcome ¥50 off ¥300", kind=CouponKind.CASH,
                        value_cents=5000, threshold_cents=30000, valid_days=30),
        "member-day": dict(name=f"{brand_name} 会员日 9折 Member day 10% off", kind=CouponKind.DISCOUNT,
                           discount_percent=90, valid_days=14),
    }


# --------------------------------------------------------------------------- plain records

@dataclass
class Entry:
    kind: str
    amount: int
    at: dt.datetime
    key: str = ""
    remaining: int = 0
    expires_at: dt.datetime | None = None
    brand_id: int | None = None
    reason: str = ""
    actor: str = "system"
    lot: Entry | None = None  # the lot an expire entry empties
    expire_run: dt.datetime | None = None  # when the hourly job empties this lot
    id: int | None = None


@dataclass
class TierStep:
    at: dt.datetime
    from_tier: str
    to_tier: str
    is_upgrade: bool
    entry: Entry | None


@dataclass
class DemoCoupon:
    template_key: str
    code: str
    issued_at: dt.datetime
    valid_until: dt.datetime
    channel: str
    guide_id: int | None
    state: str = CouponState.ISSUED
    viewed_at: dt.datetime | None = None
    redeemed_at: dt.datetime | None = None
    expired_at: dt.datetime | None = None
    redemption_id: str | None = None
    store_id: int | None = None


@dataclass
class Membership:
    brand: Brand
    guide: Guide
    channel: str
    joined_at: dt.datetime
    added_at: dt.datetime
    tags: list[str]
    notes: str
    coupons: list[DemoCoupon] = field(default_factory=list)


@dataclass
class DemoMember:
    index: int
    code: str
    name: str
    gender: str
    birthday: dt.date
    phone: str
    unionid: str | None
    external_userid: str
    marketing_consent: bool
    created_at: dt.datetime
    memberships: list[Membership] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    tier_steps: list[TierStep] = field(default_factory=list)
    coupons: list[DemoCoupon] = field(default_factory=list)
    tier: str = "normal"
    id: int | None = None

    @property
    def balance(self) -> int:
        return sum(entry.amount for entry in self.entries)

    @property
    def updated_at(self) -> dt.datetime:
        return max([self.created_at, *(entry.at for entry in self.entries)])


@dataclass
class Catalogue:
    """What every member story draws from: brands, their guides and stores, tiers, templates."""

    now: dt.datetime
    stores: dict[str, Store]
    brands: list[Brand]
    categories: dict[int, str]
    weights: list[int]
    brand_stores: dict[int, list[Store]]
    guides: dict[int, list[Guide]]
    tiers: list[tuple[str, int]]
    mall_templates: dict[str, CouponTemplate]
    brand_templates: dict[int, dict[str, object]]

    def tier_for(self, points: int) -> str:
        code = "normal"
        for tier_code, minimum in self.tiers:
            if minimum <= points:
                code = tier_code
        return code

    @property
    def lowest_tier(self) -> str:
        return self.tiers[0][0] if self.tiers else "normal"


# --------------------------------------------------------------------------- entry point

def seed(*, members: int = DEFAULT_MEMBERS, now: dt.datetime | None = None, quiet: bool = True) -> Tally:
    """Create whatever of the demo mall is missing. Returns the number of rows created per kind."""
    now = (now or timezone.now()).replace(microsecond=0)
    created: Tally = Tally()
    with transaction.atomic():
        stores = _stores(created)
        brands = _brands(created, quiet=quiet)
        counters = _counters(brands, stores, created)
        guides = _guides(brands, counters, created, now=now)
        _staff(brands, created)
        _api_client(created)
        specs = list(zip(brands, BRANDS, strict=True))
        catalogue = Catalogue(
            now=now, stores=stores, brands=brands,
            categories={brand.pk: spec[3] for brand, spec in specs},
            weights=[spec[5] for spec in BRANDS],
            brand_stores={brand.pk: [stores[code] for code in spec[4]] for brand, spec in specs},
            guides=guides,
            tiers=list(TierRule.objects.order_by("min_points_12m").values_list("code", "min_points_12m")),
            mall_templates=_mall_templates(now, created),
            brand_templates={brand.pk: _brand_templates(brand, created) for brand in brands},
        )
        _members(catalogue, members, created)
        # share links, rewards, star guides and attributed orders, through the incentive services
        from incentives.demo import seed_incentives

        seed_incentives(brands=brands, guides=guides, now=now, created=created)
        # a mall-wide contest and a brand's own campaign, published and partly claimed
        from tasks.mall.demo import seed_campaigns

        seed_campaigns(brands=brands, now=now, created=created)
        # today's guide tasks, so the sidebar's "today" has work in it (idempotent, like the nightly run)
        from tasks.engine import generate
        from tasks.newbie.services import newbie_refresh

        for brand in brands:
            created["guide tasks"] += generate(brand=brand, day=timezone.localdate(now)).created
            newbie_refresh(brand=brand)  # the newest hire's checklist counts the customers seeded since the hire
        created = +created  # drop the zero counts
        if created:
            audit(action="demo.seeded", actor="command:seed_demo", **dict(sorted(created.items())))
    return created


# --------------------------------------------------------------------------- catalogue rows

def _stores(created: Tally) -> dict[str, Store]:
    existing = {store.code: store for store in Store.objects.filter(code__in=[s["code"] for s in STORES])}
    missing = [Store(**spec) for spec in STORES if spec["code"] not in existing]
    Store.objects.bulk_create(missing)
    created["stores"] += len(missing)
    return {store.code: store for store in Store.objects.filter(code__in=[s["code"] for s in STORES])}


def _brands(created: Tally, *, quiet: bool) -> list[Brand]:
    brands = []
    for name, name_en, slug, category, *_rest in BRANDS:
        brand = Brand.objects.filter(slug=slug).first()
        if brand is None:
            # The schema migration reports every step; a seed run only wants its own summary.
            output = io.StringIO() if quiet else None
            with contextlib.redirect_stdout(output) if output else contextlib.nullcontext():
                brand = brand_onboard(name=name, name_en=name_en, slug=slug, category=category,
                                      actor="command:seed_demo")
            created["brands"] += 1
        brands.append(brand)
    return brands


def _counters(brands: list[Brand], stores: dict[str, Store], created: Tally) -> dict[int, list[Counter]]:
    wanted = []
    for brand, (_n, _e, slug, category, store_codes, _w) in zip(brands, BRANDS, strict=True):
        for code in store_codes:
            store = stores[code]
            wanted.append(Counter(brand=brand, store=store, code=f"{code}-{slug}".upper(), floor=FLOORS[category],
                                  name=f"{brand.name} · {store.name.split()[0]}专柜"))
    have = set(Counter.objects.filter(brand__in=brands).values_list("brand_id", "store_id"))
    taken = set(Counter.objects.filter(code__in=[c.code for c in wanted]).values_list("code", flat=True))
    missing = [c for c in wanted if (c.brand_id, c.store_id) not in have and c.code not in taken]
    Counter.objects.bulk_create(missing)
    created["counters"] += len(missing)
    result: dict[int, list[Counter]] = {brand.pk: [] for brand in brands}
    for counter in Counter.objects.filter(brand__in=brands).order_by("code"):
        result[counter.brand_id].append(counter)
    return result


def _person_name(rng: random.Random, female: bool) -> tuple[str, str]:
    surname, surname_py, _ = rng.choices(SURNAMES, weights=[s[2] for s in SURNAMES])[0]
    pool = FEMALE_GIVEN if female else MALE_GIVEN
    parts = rng.sample(pool, 2) if rng.random() < 0.7 else [rng.choice(pool)]
    return surname + "".join(p[0] for p in parts), surname_py + "".join(p[1] for p in parts)


def _guides(brands: list[Brand], counters: dict[int, list[Counter]], created: Tally, *,
            now: dt.datetime) -> dict[int, list[Guide]]:
    wanted = []
    for brand, (_n, _e, slug, category, _s, _w) in zip(brands, BRANDS, strict=True):
        rng = random.Random(f"{SEED}:guides:{slug}")
        used: set[str] = set()
        for number in range(GUIDES_PER_BRAND):
            name, pinyin = _person_name(rng, female=rng.random() < FEMALE_SHARE[category])
            userid = f"{slug}_{pinyin}"
            while userid in used:
                userid = f"{slug}_{pinyin}{rng.randint(2, 99)}"
            used.add(userid)
            brand_counters = counters[brand.pk]
            hired_on = dt.date(2019, 3, 1) + dt.timedelta(days=rng.randint(0, 6 * 365))
            if number == GUIDES_PER_BRAND - 1:  # each brand's newest hire: the newbie checklist (新手任务) is theirs
                hired_on = timezone.localdate(now) - dt.timedelta(days=NEWBIE_HIRED_DAYS_AGO)
            wanted.append(Guide(
                wecom_userid=userid, name=name, brand=brand,
                counter=brand_counters[number % len(brand_counters)] if brand_counters else None,
                hired_on=hired_on,
            ))
    have = set(Guide.objects.filter(wecom_userid__in=[g.wecom_userid for g in wanted])
               .values_list("wecom_userid", flat=True))
    missing = [g for g in wanted if g.wecom_userid not in have]
    Guide.objects.bulk_create(missing)
    created["guides"] += len(missing)
    by_userid = {g.wecom_userid: g for g in Guide.objects.filter(wecom_userid__in=[g.wecom_userid for g in wanted])}
    result: dict[int, list[Guide]] = {brand.pk: [] for brand in brands}
    for guide in wanted:
        result[guide.brand_id].append(by_userid[guide.wecom_userid])
    return result


def _staff(brands: list[Brand], created: Tally) -> None:
    """Demo logins. Existing users are left alone (a changed password stays changed)."""
    User = get_user_model()
    hashes: dict[str, str] = {}

    def password(raw: str) -> str:  # PBKDF2 is slow on purpose: hash each demo password once
        if raw not in hashes:
            hashes[raw] = make_password(raw)
        return hashes[raw]

    specs = [(ADMIN_LOGIN[0], ADMIN_LOGIN[1], Role.MALL_ADMIN, None, True, True)]
    specs += [(username, STAFF_PASSWORD, role, None, True, False) for username, role in MALL_LOGINS]
    specs += [(f"{brand.slug}-manager", STAFF_PASSWORD, Role.BRAND_MANAGER, brand, False, False) for brand in brands]
    existing = {u.username: u for u in User.objects.filter(username__in=[s[0] for s in specs])
                .select_related("staff_role")}
    for username, raw, role, brand, is_staff, is_superuser in specs:
        user = existing.get(username)
        if user is None:
            user = User.objects.create(username=username, password=password(raw), is_staff=is_staff,
                                       is_superuser=is_superuser)
            created["users"] += 1
        if getattr(user, "staff_role", None) is None:
            StaffRole.objects.create(user=user, role=role, brand=brand)
            created["staff_roles"] += 1


def _api_client(created: Tally) -> None:
    prefix = DEMO_API_KEY.split("_")[1]
    if not ApiClient.objects.filter(key_prefix=prefix).exists():
        api_client_create(name=DEMO_API_CLIENT, key=DEMO_API_KEY)
        created["api_clients"] += 1


def _mall_templates(now: dt.datetime, created: Tally) -> dict[str, CouponTemplate]:
    result = {}
    for key, spec in MALL_TEMPLATES.items():
        template = CouponTemplate.objects.filter(name=spec["name"]).first()
        if template is None:
            extra = {}
            if key == "anniversary":
                extra = {"valid_from": now + ANNIVERSARY_WINDOW[0], "valid_until": now + ANNIVERSARY_WINDOW[1]}
            template = CouponTemplate.objects.create(**spec, **extra)
            created["coupon_templates"] += 1
        result[key] = template
    return result


def _brand_templates(brand: Brand, created: Tally) -> dict[str, object]:
    from members.brand.models import BrandCouponTemplate

    result = {}
    with schema_context(brand.schema_name):
        for key, spec in brand_templates(brand.name).items():
            template = BrandCouponTemplate.objects.filter(name=spec["name"]).first()
            if template is None:
                template = BrandCouponTemplate.objects.create(**spec)
                created["brand_coupon_templates"] += 1
            result[key] = template
        from wecom.brand.models import WelcomeMessage

        if not WelcomeMessage.objects.exists():
            WelcomeMessage.objects.create(
                text=f"{{name}}您好！我是{brand.name}的{{guide}}，很高兴为您服务。送您一张入会礼券，到店或线上都能用～"
                     f"\nHi {{name}}, I'm {{guide}} from {brand.name_en or brand.name}. Here is your welcome coupon.",
                coupon_template=result["welcome"], link_url=f"{settings.PUBLIC_BASE_URL}/",
                link_title=f"{brand.name} 会员中心 Member centre")
            created["welcome_messages"] += 1
    return result


# --------------------------------------------------------------------------- member stories

def _token(rng: random.Random, length: int, alphabet: str = ID_CHARS) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def _member_code(rng: random.Random) -> str:
    payload = str(rng.randrange(10**8, 10**9))
    return next(payload + digit for digit in "0123456789" if member_code_is_valid(payload + digit))


def _shop_time(rng: random.Random, day: dt.datetime) -> dt.datetime:
    """A moment during opening hours (10:00-21:45 local) on the local day of ``day``."""
    local = timezone.localtime(day).replace(hour=10, minute=0, second=0)
    return local + dt.timedelta(minutes=rng.randint(0, 11 * 60 + 45), seconds=rng.randint(0, 59))


def _next_run(moment: dt.datetime, minute: int) -> dt.datetime:
    """When an hourly job at ``minute`` past the hour first runs after ``moment``."""
    run = timezone.localtime(moment).replace(minute=minute, second=0, microsecond=0)
    return run if run > moment else run + dt.timedelta(hours=1)


class Unique:
    """Draws values until one is new (collisions are rare; deterministic in generation order)."""

    def __init__(self):
        self.seen: set[str] = set()

    def __call__(self, draw) -> str:
        value = draw()
        while value in self.seen:
            value = draw()
        self.seen.add(value)
        return value


@dataclass
class Uniques:
    codes: Unique = field(default_factory=Unique)
    phones: Unique = field(default_factory=Unique)
    unionids: Unique = field(default_factory=Unique)
    external_ids: Unique = field(default_factory=Unique)
    coupons: Unique = field(default_factory=Unique)


def member_story(cat: Catalogue, index: int, uniques: Uniques) -> DemoMember:
    """One member's life in the mall, drawn from the member's own generator."""
    rng = random.Random(f"{SEED}:member:{index}")
    now = cat.now
    count = rng.choices([1, 2, 3], weights=[85, 10, 5])[0]
    picked: list[Brand] = []
    while len(picked) < count:
        brand = rng.choices(cat.brands, weights=cat.weights)[0]
        if brand not in picked:
            picked.append(brand)
    category = cat.categories[picked[0].pk]
    roll = rng.random()
    gender = Gender.UNKNOWN if roll < 0.05 else Gender.FEMALE if roll < 0.05 + 0.95 * FEMALE_SHARE[category] \
        else Gender.MALE
    female = gender == Gender.FEMALE or (gender == Gender.UNKNOWN and rng.random() < 0.5)
    name, _pinyin = _person_name(rng, female=female)
    age = rng.randint(25, 40) if category == BrandCategory.KIDS else rng.randint(18, 58)
    birthday = dt.date(now.year - age, 1, 1) + dt.timedelta(days=rng.randint(0, 364))
    # 35% came through WeCom in the last two months; the others are long-standing members.
    first_join = now - dt.timedelta(days=rng.uniform(0.2, 60) if rng.random() < 0.35 else rng.uniform(60, 540))
    member = DemoMember(
        index=index, code=uniques.codes(lambda: _member_code(rng)), name=name, gender=gender, birthday=birthday,
        phone=uniques.phones(lambda: rng.choice(PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}"),
        unionid=uniques.unionids(lambda: "o" + _token(rng, 27, ID_CHARS + "-_")) if rng.random() < 0.9 else None,
        external_userid=uniques.external_ids(lambda: "wm" + _token(rng, 30)),
        marketing_consent=rng.random() < 0.75, created_at=first_join, tier=cat.lowest_tier,
    )
    vip = rng.random() < 0.06
    for position, brand in enumerate(picked):
        joined = first_join if position == 0 else first_join + (now - first_join) * rng.uniform(0.1, 0.95)
        # Joined in the last 60 days: adding the guide on WeCom was the joining (lifecycle day 0).
        # Before that, the member added the guide when the brand rolled out WeCom (last 60 days).
        added = joined if now - joined <= dt.timedelta(days=60) else now - dt.timedelta(days=rng.uniform(0.2, 60))
        guides = cat.guides[brand.pk]
        cat_tags = TAGS[cat.categories[brand.pk]]
        member.memberships.append(Membership(
            brand=brand, guide=rng.choices(guides, weights=range(len(guides) + 1, 1, -1))[0],
            channel=rng.choices([c for c, _ in CHANNELS], weights=[w for _, w in CHANNELS])[0],
            joined_at=joined, added_at=added,
            tags=rng.sample(cat_tags, rng.randint(0, 2)) + (rng.sample(COMMON_TAGS, 1) if rng.random() < .2 else []),
            notes=rng.choice(NOTES) if rng.random() < 0.3 else "",
        ))
    _ledger(cat, member, rng, vip=vip)
    _coupons(cat, member, rng, uniques)
    return member


def _ledger(cat: Catalogue, member: DemoMember, rng: random.Random, *, vip: bool) -> None:
    """Purchases and redemptions, replayed with the rules of ``members.services``."""
    now = cat.now
    events: list[tuple[dt.datetime, str, int, Brand | None]] = []
    for membership in member.memberships:
        chance, low, high = PURCHASE[cat.categories[membership.brand.pk]]
        chance *= 3 if vip else 1
        moments = []
        if rng.random() < 0.75:  # most join with a purchase
            moments.append(membership.joined_at + dt.timedelta(minutes=rng.randint(1, 25)))
        window = membership.joined_at
        while window < now:
            if rng.random() < chance:
                moments.append(_shop_time(rng, window + dt.timedelta(days=rng.uniform(0, 30))))
            window += dt.timedelta(days=30)
        for moment in moments:
            age = now - moment
            # Never near the 12-month edge: a tier check moments later must count the same points.
            if moment <= membership.joined_at or moment >= now or dt.timedelta(days=360) < age < dt.timedelta(days=370):
                continue
            points = round(rng.randint(low, high) * (2 if vip else 1), -1)
            events.append((moment, PointsKind.EARN, points, membership.brand))
    if events:
        first = min(e[0] for e in events)
        for _ in range(rng.choices([0, 1, 2], weights=[70, 20, 10])[0]):
            moment = first + (now - first) * rng.uniform(0.05, 0.98)
            brand = rng.choice(member.memberships).brand if rng.random() < 0.5 else None  # else a mall gift
            events.append((moment, PointsKind.REDEEM, rng.choice([200, 300, 500, 800, 1000, 2000]), brand))
    events.sort(key=lambda e: e[0])

    lots: list[Entry] = []
    sequence = 0

    def key(kind: str) -> str:
        nonlocal sequence
        sequence += 1
        return f"demo:{member.code}:{kind}:{sequence}"

    def expire_until(moment: dt.datetime) -> None:
        for lot in lots:  # in creation order, so in expiry order
            if lot.remaining > 0 and lot.expire_run <= moment:
                member.entries.append(Entry(PointsKind.EXPIRE, -lot.remaining, lot.expire_run, lot=lot))
                lot.remaining = 0

    def evaluate(moment: dt.datetime, entry: Entry | None) -> None:
        since = moment - dt.timedelta(days=365)
        earned = sum(e.amount for e in member.entries
                     if e.amount > 0 and e.kind in (PointsKind.EARN, PointsKind.ADJUST) and e.at >= since)
        tier = cat.tier_for(earned)
        if tier != member.tier:
            ranks = [code for code, _ in cat.tiers]
            old_rank = ranks.index(member.tier) if member.tier in ranks else -1
            member.tier_steps.append(TierStep(moment, member.tier, tier, ranks.index(tier) > old_rank, entry))
            member.tier = tier

    for moment, kind, amount, brand in events:
        expire_until(moment)
        if kind == PointsKind.EARN:
            store = rng.choice(cat.brand_stores[brand.pk])
            expires_at = default_expiry(moment)
            entry = Entry(kind, amount, moment, key=key("earn"), remaining=amount, expires_at=expires_at,
                          brand_id=brand.pk, reason=f"{brand.name} 消费 ¥{amount} · Purchase",
                          actor=f"pos:{store.code}", expire_run=_next_run(expires_at, 5))  # points-expire job
            lots.append(entry)
        else:
            available = sum(lot.remaining for lot in lots if lot.expires_at > moment)
            amount = min(amount, available // 100 * 100)
            if amount <= 0:
                continue
            left = amount
            for lot in sorted((lot for lot in lots if lot.remaining > 0 and lot.expires_at > moment),
                              key=lambda lot: lot.expires_at):  # stable: same-day lots by creation
                take = min(left, lot.remaining)
                lot.remaining -= take
                left -= take
                if not left:
                    break
            entry = Entry(kind, -amount, moment, key=key("redeem"), brand_id=brand.pk if brand else None,
                          reason=rng.choice(["积分兑换礼品 · Gift redemption", "积分抵现 · Points as cash"]),
                          actor="miniprogram")
        member.entries.append(entry)
        evaluate(moment, entry)
    expire_until(now)
    evaluate(now, None)  # as the tier stands today


def _coupon_fate(rng: random.Random, coupon: DemoCoupon, now: dt.datetime, stores: list[Store]) -> None:
    """issued -> viewed -> redeemed, or expired by the hourly job once past its validity."""
    horizon = min(coupon.valid_until, now)
    viewed = rng.random() < 0.65
    if viewed:
        coupon.viewed_at = coupon.issued_at + (horizon - coupon.issued_at) * rng.uniform(0.0, 0.3)
        coupon.state = CouponState.VIEWED
    if viewed and rng.random() < 0.45:
        coupon.redeemed_at = coupon.viewed_at + (horizon - coupon.viewed_at) * rng.uniform(0.1, 0.9)
        coupon.state = CouponState.REDEEMED
        store = rng.choice(stores)
        coupon.store_id = store.pk
        coupon.redemption_id = f"POS-{store.code}-{coupon.code}"
        return
    expiry_run = _next_run(coupon.valid_until, 15)  # the hourly coupons-expire job
    if expiry_run <= now:
        coupon.state = CouponState.EXPIRED
        coupon.expired_at = expiry_run


def _coupons(cat: Catalogue, member: DemoMember, rng: random.Random, uniques: Uniques) -> None:
    now = cat.now
    all_stores = list(cat.stores.values())

    def issue(target: list, key: str, template, issued_at: dt.datetime, channel: str, guide_id: int | None,
              prefix: str, stores: list[Store]) -> None:
        if template.valid_days:
            valid_until = issued_at + dt.timedelta(days=template.valid_days)
        else:
            valid_until = template.valid_until
        if template.valid_until:
            valid_until = min(valid_until, template.valid_until)
        coupon = DemoCoupon(key, uniques.coupons(lambda: prefix + _token(rng, 11, COUPON_ALPHABET)), issued_at,
                            valid_until, channel, guide_id)
        _coupon_fate(rng, coupon, now, stores)
        target.append(coupon)

    for membership in member.memberships:
        templates = cat.brand_templates[membership.brand.pk]
        stores = cat.brand_stores[membership.brand.pk]
        # The welcome message carries the brand's welcome coupon (golden path step 3).
        issue(membership.coupons, "welcome", templates["welcome"], membership.added_at + dt.timedelta(seconds=5),
              "welcome", membership.guide.pk, "B", stores)
        if rng.random() < 0.3:
            start = max(membership.joined_at, now - dt.timedelta(days=45))
            issue(membership.coupons, "member-day", templates["member-day"], start + (now - start) * rng.random(),
                  "campaign:member-day", membership.guide.pk, "B", stores)
    mall = cat.mall_templates
    if now - member.created_at <= dt.timedelta(days=60):
        issue(member.coupons, "new-member", mall["new-member"], member.created_at + dt.timedelta(seconds=10),
              "new-member", None, "M", all_stores)
    birthday = _last_birthday(member.birthday, now)
    if birthday is not None and birthday >= member.created_at:
        issue(member.coupons, "birthday", mall["birthday"], birthday, "birthday", None, "M", all_stores)
    anniversary = mall["anniversary"]
    start, end = max(anniversary.valid_from, member.created_at), min(anniversary.valid_until, now)
    if start < end and rng.random() < 0.35:
        issue(member.coupons, "anniversary", anniversary, start + (end - start) * rng.random(),
              "campaign:anniversary", None, "M", all_stores)


def _last_birthday(birthday: dt.date, now: dt.datetime) -> dt.datetime | None:
    """09:00 local on the member's birthday if it fell in the last 40 days (birthday coupon)."""
    today = timezone.localdate(now)
    for year in (today.year, today.year - 1):
        try:
            day = birthday.replace(year=year)
        except ValueError:  # 29 February
            day = dt.date(year, 2, 28)
        moment = timezone.make_aware(dt.datetime.combine(day, dt.time(9)))
        if dt.timedelta(0) < now - moment <= dt.timedelta(days=40):
            return moment
    return None


# --------------------------------------------------------------------------- writing

def _copy_text(value) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dt.datetime | dt.date):
        text = value.isoformat()
    elif isinstance(value, list):
        text = "{" + ",".join('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in value) + "}"
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def copy_rows(model, columns: list[str], rows: list[tuple]) -> int:
    """COPY rows into the model's table in the current schema. Columns are model field names."""
    if not rows:
        return 0
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(_copy_text(value) for value in row))
        buffer.write("\n")
    buffer.seek(0)
    quote = connection.ops.quote_name
    names = ", ".join(quote(model._meta.get_field(name).column) for name in columns)
    with connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {quote(model._meta.db_table)} ({names}) FROM STDIN", buffer)
    return len(rows)


def reserve_ids(model, count: int) -> list[int]:
    """Take ``count`` ids from the table's sequence, so rows can be linked before they are written."""
    if not count:
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                       [model._meta.db_table, count])
        return sorted(row[0] for row in cursor.fetchall())


def _members(cat: Catalogue, count: int, created: Tally) -> None:
    from guides.brand.models import Relationship
    from members.brand.models import BrandCoupon, BrandMember

    uniques = Uniques()
    stories = [member_story(cat, index, uniques) for index in range(count)]
    stories = _only_new(stories)
    if not stories:
        return

    for member, member_id in zip(stories, reserve_ids(Member, len(stories)), strict=True):
        member.id = member_id
    entries = [entry for member in stories for entry in sorted(member.entries, key=lambda e: e.at)]
    for entry, entry_id in zip(entries, reserve_ids(PointsEntry, len(entries)), strict=True):
        entry.id = entry_id  # per member in time order, so "oldest lot first" ties break by id as in the service
    for entry in entries:
        if entry.kind == PointsKind.EXPIRE:  # the same key and reason as points_expire_due writes
            entry.key, entry.reason = f"expire:{entry.lot.id}", f"lot {entry.lot.id} expired"

    corp_id = settings.WECOM_CORP_ID_DEFAULT
    created["members"] += copy_rows(Member, [
        "id", "code", "unionid", "phone_hash", "phone_encrypted", "phone_masked", "name", "gender", "birthday",
        "tier", "points_balance", "marketing_consent", "privacy_accepted_at", "first_brand", "first_guide",
        "first_channel", "created_at", "updated_at",
    ], [(m.id, m.code, m.unionid, lookup_hash(m.phone), encrypt(m.phone), phone_mask(m.phone), m.name, m.gender,
         m.birthday, m.tier, m.balance, m.marketing_consent, m.created_at, m.memberships[0].brand.pk,
         m.memberships[0].guide.pk, m.memberships[0].channel, m.created_at, m.updated_at) for m in stories])
    created["external_ids"] += copy_rows(MemberExternalId, ["member", "corp_id", "external_userid", "created_at"], [
        (m.id, corp_id, m.external_userid, min(ms.added_at for ms in m.memberships)) for m in stories])
    created["points_entries"] += copy_rows(PointsEntry, [
        "id", "member", "kind", "amount", "remaining", "expires_at", "brand", "idempotency_key", "reason", "actor",
        "created_at",
    ], [(e.id, m.id, e.kind, e.amount, e.remaining, e.expires_at, e.brand_id, e.key, e.reason, e.actor, e.at)
        for m in stories for e in m.entries])
    created["tier_changes"] += copy_rows(TierChange, ["member", "from_tier", "to_tier", "is_upgrade", "at", "entry"], [
        (m.id, s.from_tier, s.to_tier, s.is_upgrade, s.at, s.entry.id if s.entry else None)
        for m in stories for s in m.tier_steps])
    created["coupons"] += _copy_coupons(Coupon, cat.mall_templates, [(m, c) for m in stories for c in m.coupons])
    _count_issued(cat.mall_templates, [c for m in stories for c in m.coupons])

    for brand in cat.brands:
        joined = [(m, ms) for m in stories for ms in m.memberships if ms.brand.pk == brand.pk]
        with schema_context(brand.schema_name):
            created["brand_members"] += copy_rows(BrandMember, [
                "member", "joined_at", "source_guide", "source_channel", "tags", "notes", "status", "updated_at",
            ], [(m.id, ms.joined_at, ms.guide.pk, ms.channel, ms.tags, ms.notes, "active", ms.joined_at)
                for m, ms in joined])
            created["relationships"] += copy_rows(Relationship, [
                "guide", "member", "external_userid", "channel", "added_at", "status", "ended_reason",
            ], [(ms.guide.pk, m.id, m.external_userid, ms.channel, ms.added_at, "active", "") for m, ms in joined])
            templates = cat.brand_templates[brand.pk]
            created["brand_coupons"] += _copy_coupons(BrandCoupon, templates,
                                                      [(m, c) for m, ms in joined for c in ms.coupons])
            _count_issued(templates, [c for _m, ms in joined for c in ms.coupons])


def _copy_coupons(model, templates: dict, coupons: list[tuple[DemoMember, DemoCoupon]]) -> int:
    return copy_rows(model, [
        "code", "member", "template", "state", "issued_at", "viewed_at", "redeemed_at", "expired_at", "valid_until",
        "redemption_id", "redeemed_store", "issued_by_guide", "channel",
    ], [(c.code, m.id, templates[c.template_key].pk, c.state, c.issued_at, c.viewed_at, c.redeemed_at, c.expired_at,
         c.valid_until, c.redemption_id, c.store_id, c.guide_id, c.channel) for m, c in coupons])


def _count_issued(templates: dict, coupons: list[DemoCoupon]) -> None:
    """Templates count what they issued (the stock check in coupon_issue relies on it)."""
    for key, issued in Tally(c.template_key for c in coupons).items():
        template = templates[key]
        type(template).objects.filter(pk=template.pk).update(issued_count=F("issued_count") + issued)


def _only_new(stories: list[DemoMember]) -> list[DemoMember]:
    """Drop members already seeded (same code), and any whose phone, unionid, external userid or
    coupon codes meanwhile belong to somebody else (someone enrolled for real during the demo)."""
    codes = set(Member.objects.filter(code__in=[m.code for m in stories]).values_list("code", flat=True))
    stories = [m for m in stories if m.code not in codes]
    if not stories:
        return []
    hashes = set(Member.objects.filter(phone_hash__in=[lookup_hash(m.phone) for m in stories])
                 .values_list("phone_hash", flat=True))
    unionids = set(Member.objects.filter(unionid__in=[m.unionid for m in stories if m.unionid])
                   .values_list("unionid", flat=True))
    external = set(MemberExternalId.objects.filter(
        corp_id=settings.WECOM_CORP_ID_DEFAULT, external_userid__in=[m.external_userid for m in stories])
        .values_list("external_userid", flat=True))
    coupon_codes = set(Coupon.objects.filter(code__in=[c.code for m in stories for c in m.coupons])
                       .values_list("code", flat=True))
    return [m for m in stories
            if lookup_hash(m.phone) not in hashes and m.unionid not in unionids and m.external_userid not in external
            and not any(c.code in coupon_codes for c in m.coupons)]


# --------------------------------------------------------------------------- banner

def _pad(text: str, width: int) -> str:
    """Left-justify for a terminal, where a Chinese character takes two columns."""
    columns = sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)
    return text + " " * max(1, width - columns)


def banner(*, port: int | str) -> str:
    """What `make run` prints once the platform is up: where to click and how to sign in."""
    from tenants.models import Domain

    base = f"http://localhost:{port}"
    lines = [
        "",
        "=" * 72,
        "  商场私域 SCRM 演示环境已就绪 · Mall SCRM demo is up",
        "=" * 72,
        *(f"  {_pad(label, 28)}{base}{path}" for label, path in (
            ("商场首页 Mall home", "/"), ("运营后台 Mall admin", "/admin/"), ("接口文档 API docs", "/api/docs/"),
            ("导购侧边栏 Guide sidebar", "/sidebar/"), ("健康检查 Health", "/healthz"))),
        "",
        "  品牌后台 Brand dashboards:",
    ]
    domains = dict(Domain.objects.filter(is_primary=True).values_list("tenant_id", "domain"))
    for brand in Brand.objects.order_by("slug"):
        host = domains.get(brand.pk, f"{brand.slug}.{settings.BRAND_DOMAIN_SUFFIX}")
        suspended = "" if brand.is_active else "  (停用 suspended)"
        lines.append(f"    {_pad(brand.name, 10)}{_pad(brand.name_en, 15)}http://{host}:{port}/{suspended}")
    logins = [(ADMIN_LOGIN[0], ADMIN_LOGIN[1], "商场管理员 mall admin (superuser)"),
              ("operator", STAFF_PASSWORD, "商场运营 mall operator"),
              ("analyst", STAFF_PASSWORD, "商场分析师(只读) mall analyst, read-only")]
    logins += [(f"{slug}-manager", STAFF_PASSWORD, f"品牌经理 brand manager, on http://{slug}.localhost:{port}/")
               for _name, _en, slug, *_rest in BRANDS]
    usernames = set(get_user_model().objects.filter(username__in=[login[0] for login in logins])
                    .values_list("username", flat=True))
    lines += ["", "  演示账号 Demo logins (username / password):"]
    lines += [f"    {name:<22}{password:<13}{label}" for name, password, label in logins if name in usernames]
    if ApiClient.objects.filter(key_prefix=DEMO_API_KEY.split("_")[1], is_active=True).exists():
        lines += ["", "  演示接口密钥 Demo API key (mall):",
                  f"    Authorization: Api-Key {DEMO_API_KEY}"]
    lines += ["=" * 72, ""]
    return "\n".join(lines)
