"""Make the bundled WeCom simulator know the demo mall: guides as corp members, customers and
their existing guide relationships (silently: no callbacks for what the platform already has)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from guides.models import Guide, GuideStatus
from members.models import Member, MemberExternalId
from tenants.models import Brand
from wecom.simulator.client import SimulatorControl

BATCH = 1000


def simulator_base_url() -> str:
    base = settings.WECOM_API_BASE.rstrip("/")
    if not base.endswith("/cgi-bin"):
        raise CommandError(f"WECOM_API_BASE={settings.WECOM_API_BASE} is not the bundled simulator.")
    return base[: -len("/cgi-bin")]


class Command(BaseCommand):
    help = "Register the demo guides, customers and relationships with the bundled WeCom simulator."

    def handle(self, *args, **options):
        if not settings.DEMO_MODE:
            raise CommandError("demo_simulator only runs in DEMO_MODE.")
        sim = SimulatorControl(simulator_base_url())
        guides = list(Guide.objects.select_related("brand").order_by("pk"))
        sim.members([{"userid": g.wecom_userid, "name": g.name, "department": [g.brand_id],
                      "status": "active" if g.status == GuideStatus.ACTIVE else "resigned"} for g in guides],
                    silent=True)
        corp = settings.WECOM_CORP_ID
        externals = dict(MemberExternalId.objects.filter(corp_id=corp).values_list("member_id", "external_userid"))
        names = dict(Member.objects.filter(pk__in=externals).values_list("pk", "name"))
        # the simulator keeps its state between runs (.data/wecom-simulator.json): register only the new customers
        known = {c["external_userid"] for c in sim.get("customers")["customers"]}
        customers = [{"external_userid": euid, "name": names.get(mid, "")} for mid, euid in externals.items()
                     if euid not in known]
        for start in range(0, len(customers), BATCH):
            sim.post("customers", customers=customers[start:start + BATCH])
        userids = {g.pk: g.wecom_userid for g in guides}
        follows = 0
        from guides.brand.models import Relationship, RelationshipStatus

        for brand in Brand.objects.all():
            with schema_context(brand.schema_name):
                rows = list(Relationship.objects.filter(status=RelationshipStatus.ACTIVE)
                            .values_list("guide_id", "member_id", "state", "added_at"))
            batch = [{"userid": userids[g], "external_userid": externals[m], "state": state,
                      "createtime": int(added.timestamp())} for g, m, state, added in rows if m in externals]
            for start in range(0, len(batch), BATCH):
                follows += sim.seed_follows(batch[start:start + BATCH], silent=True)
        codes = self._counter_live_codes(guides)
        groups = self._customer_groups(sim, guides, externals)
        self.stdout.write(f"WeCom simulator knows {len(guides)} guides, {len(known) + len(customers)} customers, "
                          f"{follows} new relationships; {codes} new counter live codes; {groups} new customer groups.")

    def _customer_groups(self, sim: SimulatorControl, guides, externals: dict) -> int:
        """The first two active guides of each brand own a customer group (社群) of some of their customers, made in
        the simulator and read back through the platform's own group sync (as WeCom would have it), tagged with
        the guide's store and the brand's interest, with today's group tasks issued. Once per guide."""
        from django.utils import timezone

        from guides.brand.models import CustomerGroup, Relationship, RelationshipStatus
        from tasks.community.services import group_tags_set, group_tasks_generate
        from wecom.groups import group_refresh

        interest = {"lancome": "skincare", "esteelauder": "skincare", "uniqlo": "fashion", "peacebird": "fashion",
                    "nike": "sports", "anta": "sports", "balabala": "family", "goodbaby": "mother_baby"}
        now, created, corp = timezone.now(), 0, settings.WECOM_CORP_ID
        by_brand: dict = {}
        for guide in guides:
            if guide.status == GuideStatus.ACTIVE and guide.brand.is_active:
                by_brand.setdefault(guide.brand, []).append(guide)
        for brand, owners in by_brand.items():
            for guide in owners[:2]:
                with schema_context(brand.schema_name):
                    if CustomerGroup.objects.filter(owner=guide).exists():
                        continue
                    members = list(Relationship.objects.filter(guide=guide, status=RelationshipStatus.ACTIVE)
                                   .order_by("added_at").values_list("member_id", flat=True)[:40])
                store = guide.counter.store if guide.counter_id else None
                name = f"{brand.name}{store.name if store else ''}会员群"[:30]
                chat_id = sim.post("groupchats", owner=guide.wecom_userid, name=name, silent=True,
                                   notice="欢迎加入！每周五群专属券，周日抽奖～",
                                   members=[externals[m] for m in members if m in externals])["groupchat"]["chat_id"]
                group_refresh(chat_id=chat_id, corp_id=corp, at=now)
                with schema_context(brand.schema_name):
                    group = CustomerGroup.objects.get(chat_id=chat_id)
                group_tags_set(brand=brand, group_id=group.pk, store_id=store.pk if store else None,
                               interest_tags=[interest.get(brand.slug, "fashion")], actor="demo_simulator")
                created += 1
        if created:
            for brand in by_brand:
                group_tasks_generate(brand=brand, day=timezone.localdate(now))
        return created

    def _counter_live_codes(self, guides) -> int:
        """Every active demo guide gets a counter-poster live code (state "counter"), once."""
        from wecom.brand.models import LiveCode
        from wecom.livecodes import livecode_create

        created = 0
        for guide in guides:
            if guide.status != GuideStatus.ACTIVE or not guide.brand.is_active:
                continue
            with schema_context(guide.brand.schema_name):
                if LiveCode.objects.filter(guide=guide, is_active=True).exists():
                    continue
            livecode_create(guide=guide, state="counter", name=f"{guide.name} 柜台海报"[:30], kind="counter",
                            actor="demo_simulator")
            created += 1
        return created
