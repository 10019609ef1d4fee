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
        customers = [{"external_userid": euid, "name": names.get(mid, "")} for mid, euid in externals.items()]
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
        self.stdout.write(f"WeCom simulator knows {len(guides)} guides, {len(customers)} customers, "
                          f"{follows} new relationships; {codes} new counter live codes.")

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
