"""Events API for the mall's mini-program, POS and live-stream systems (one API key per integration).

view / like / add_to_cart are idempotent by ``event_id``; order_paid by ``order_id`` within the brand,
order_refunded by ``refund_id`` within the order (partial refunds) or by ``order_id`` (a whole refund).
A brand's key acts only for its own brand: another brand's links and orders answer 404, exactly like
ones that do not exist.
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from scrm.api_base import StaffOrIntegration, principal
from tenants.access import brand_get

from . import attribution


class ShareEventIn(serializers.Serializer):
    event_id = serializers.CharField(max_length=80, help_text="Unique per event; a retry with the same id is a no-op")
    type = serializers.ChoiceField(choices=list(attribution.EVENT_KINDS), help_text="view / like / add_to_cart")
    share_code = serializers.CharField(max_length=24, required=False, allow_blank=True, default="",
                                       help_text="The code of /s/<code>")
    share_token = serializers.CharField(max_length=200, required=False, allow_blank=True, default="",
                                        help_text="The scrm_share parameter/cookie the link put on the page")
    visitor = serializers.CharField(max_length=64, required=False, allow_blank=True, default="",
                                    help_text="Anonymous visitor id (openid, device id); or give member")
    member = serializers.CharField(max_length=10, required=False, allow_blank=True, default="",
                                   help_text="Member code 会员码, when known")
    at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class ShareEventOut(serializers.Serializer):
    event_id = serializers.CharField()
    replayed = serializers.BooleanField()
    counted = serializers.BooleanField(help_text="False when this visitor already did this today")
    share_code = serializers.CharField()


class OrderPaidIn(serializers.Serializer):
    order_id = serializers.CharField(max_length=64)
    brand = serializers.SlugField(help_text="Brand subdomain slug 品牌")
    amount_cents = serializers.IntegerField(min_value=1, help_text="Paid amount in cents (分)")
    paid_at = serializers.DateTimeField()
    channel = serializers.ChoiceField(choices=list(attribution.ORDER_CHANNELS))
    member = serializers.CharField(max_length=10, required=False, allow_blank=True, default="")
    share_token = serializers.CharField(max_length=200, required=False, allow_blank=True, default="",
                                        help_text="The scrm_share parameter/cookie carried to checkout")
    store = serializers.CharField(max_length=20, required=False, allow_blank=True, default="",
                                  help_text="Store code of the POS; default: the attributed guide's store")
    customer_lat = serializers.FloatField(required=False, allow_null=True, default=None)
    customer_lng = serializers.FloatField(required=False, allow_null=True, default=None)


class RefundLineIn(serializers.Serializer):
    sku = serializers.CharField(max_length=64, help_text="The refunded item's SKU 商品编码")
    quantity = serializers.IntegerField(min_value=1, required=False, default=1)
    amount_cents = serializers.IntegerField(min_value=1, help_text="Refunded amount of this line in cents (分)")


class OrderRefundedIn(serializers.Serializer):
    order_id = serializers.CharField(max_length=64)
    brand = serializers.SlugField()
    refund_id = serializers.CharField(
        max_length=64, required=False, allow_blank=True, default="",
        help_text="The refund's own id 退款单号: a retry with the same id is a no-op. Required for a partial refund; "
                  "without it the request means 'refund the rest of the order' and is idempotent by order")
    amount_cents = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, default=None,
        help_text="Refunded amount in cents (分); omit to refund what is left of the order. Refunds of an order "
                  "never add up to more than it: 409 refund_exceeds_order")
    lines = RefundLineIn(many=True, required=False, allow_null=True, default=None,
                         help_text=f"The refunded lines (1-{attribution.MAX_REFUND_LINES}); their amounts add up to "
                                   "the refund (400 refund_lines_mismatch when amount_cents says otherwise)")
    refunded_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class RefundOut(serializers.Serializer):
    refund_id = serializers.CharField(help_text="Empty for the full refund sent without an id")
    amount_cents = serializers.IntegerField()
    lines = RefundLineIn(many=True)
    points_reversed = serializers.IntegerField(help_text="Member points taken back (unspent ones only)")
    commission_cents = serializers.IntegerField(help_text="Commission reversed by this refund")
    coins = serializers.IntegerField(help_text="Guide coins reversed by this refund")
    exp = serializers.IntegerField(help_text="Guide experience reversed by this refund")
    refunded_at = serializers.DateTimeField()


class OrderOut(serializers.Serializer):
    order_id = serializers.CharField()
    status = serializers.CharField()
    amount_cents = serializers.IntegerField()
    attributed_by = serializers.CharField()
    guide = serializers.SerializerMethodField()
    counter = serializers.SerializerMethodField()
    store = serializers.SerializerMethodField()
    member = serializers.SerializerMethodField()
    points = serializers.IntegerField()
    refunded_cents = serializers.IntegerField(help_text="All refunds of the order so far")
    points_reversed = serializers.IntegerField()
    commission_cents = serializers.IntegerField()
    commission_reversed_cents = serializers.IntegerField()
    coins = serializers.IntegerField()
    coins_reversed = serializers.IntegerField()
    exp = serializers.IntegerField()
    exp_reversed = serializers.IntegerField()
    cross_time = serializers.BooleanField()
    cross_space = serializers.BooleanField()
    distance_km = serializers.DecimalField(max_digits=8, decimal_places=2, allow_null=True)

    def get_guide(self, order) -> str | None:
        return order.guide.wecom_userid if order.guide_id else None

    def get_counter(self, order) -> str | None:
        return order.counter.code if order.counter_id else None

    def get_store(self, order) -> str | None:
        return order.store.code if order.store_id else None

    def get_member(self, order) -> str | None:
        return order.member.code if order.member_id else None


class OrderResultOut(serializers.Serializer):
    order = OrderOut()
    replayed = serializers.BooleanField()


class RefundResultOut(OrderResultOut):
    refund = RefundOut(allow_null=True, help_text="This refund (a replay: the one recorded first); null when a "
                                                  "full refund without an id found nothing left to refund")


class ErrorOut(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable, e.g. refund_exceeds_order")
    message = serializers.CharField(help_text="Chinese and English")
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _order_body(result, out=OrderResultOut) -> dict:
    from django_tenants.utils import schema_context

    order = result.order
    with schema_context("public"):  # guide, counter, store and member are the mall's rows
        return out({"order": order, "replayed": result.replayed, "refund": result.refund}).data


class ShareEventView(APIView):
    permission_classes = [StaffOrIntegration]

    @extend_schema(request=ShareEventIn, responses={201: ShareEventOut, 200: ShareEventOut},
                   summary="A share-link view / like / add_to_cart 分享链接事件 (mini-program / live stream)")
    def post(self, request):
        who = principal(request)
        data = _valid(ShareEventIn, request)
        result = attribution.share_event_ingest(
            event_id=data["event_id"], kind=data["type"], share_code=data["share_code"],
            share_token=data["share_token"], visitor=data["visitor"], member_code=data["member"], at=data["at"],
            brand_id=None if who.is_mall else who.brand_id, source=who.actor)
        body = ShareEventOut({"event_id": data["event_id"], "replayed": result.replayed, "counted": result.counted,
                              "share_code": result.link_code}).data
        return Response(body, status=status.HTTP_200_OK if result.replayed else status.HTTP_201_CREATED)


class ShareEventBatchIn(serializers.Serializer):
    events = ShareEventIn(many=True, help_text=f"1-{attribution.MAX_BATCH} events")


class ShareEventBatchOut(serializers.Serializer):
    results = ShareEventOut(many=True)


_PLAIN_TEXT = {name: field.max_length for name, field in ShareEventIn().fields.items()
               if isinstance(field, serializers.CharField)}
_PLAIN_KINDS = frozenset(attribution.EVENT_KINDS)


def _encodes(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:  # a lone surrogate, which the serializer refuses
        return False
    return True


def _plain_events(data) -> list[dict] | None:
    """The batch's events exactly as ``ShareEventBatchIn`` would validate them, or None when any event is not
    plainly valid (then the serializer runs and reports).

    A busy integration sends hundreds of these per second; validating each event field by field through the
    serializer cost ~0.1 ms per event, a third of the request. An event qualifies only if the serializer could
    not read it differently: a JSON object whose text fields are strings within their length, with no
    surrounding whitespace (the serializer trims it), no NUL and no lone surrogate, a known type, a non-blank event id, and no
    ``at`` but null (a timestamp is parsed by the serializer). tests/incentives/test_events_api.py checks both
    paths agree.
    """
    if not isinstance(data, dict) or not isinstance(events := data.get("events"), list):
        return None
    out = []
    for event in events:
        if not isinstance(event, dict) or event.get("at") is not None:
            return None
        kind = event.get("type")
        if not isinstance(kind, str) or kind not in _PLAIN_KINDS:
            return None
        item = {"type": kind, "at": None}
        for name, limit in _PLAIN_TEXT.items():
            value = event.get(name, "")
            if (not isinstance(value, str) or len(value) > limit or value != value.strip() or "\x00" in value
                    or not (value.isascii() or _encodes(value))):
                return None
            item[name] = value
        if not item["event_id"]:
            return None
        out.append(item)
    return out


class ShareEventBatchView(APIView):
    """The same events, up to 500 per request, stored in one statement: how busy systems should send them."""

    permission_classes = [StaffOrIntegration]

    @extend_schema(request=ShareEventBatchIn, responses={200: ShareEventBatchOut},
                   summary="A batch of share-link events 分享链接事件(批量), all or nothing")
    def post(self, request):
        who = principal(request)
        items = _plain_events(request.data)
        if items is None:  # anything unusual: the serializer decides, and words the errors
            serializer = ShareEventBatchIn(data=request.data)
            serializer.is_valid(raise_exception=True)
            items = serializer.validated_data["events"]
        events = [attribution.ShareEventIn(event_id=e["event_id"], kind=e["type"], share_code=e["share_code"],
                                           share_token=e["share_token"], visitor=e["visitor"],
                                           member_code=e["member"], at=e["at"])
                  for e in items]
        results = attribution.share_events_ingest(events=events, brand_id=None if who.is_mall else who.brand_id,
                                                  source=who.actor)
        return Response({"results": [{"event_id": r.event_id, "replayed": r.replayed, "counted": r.counted,
                                      "share_code": r.link_code} for r in results]})


class OrderPaidView(APIView):
    permission_classes = [StaffOrIntegration]

    @extend_schema(request=OrderPaidIn, responses={201: OrderResultOut, 200: OrderResultOut},
                   summary="An order was paid 订单支付: attribute it, earn points, commission and coins")
    def post(self, request):
        who = principal(request)
        data = _valid(OrderPaidIn, request)
        brand = brand_get(who, data["brand"])
        result = attribution.order_paid(
            brand=brand, order_id=data["order_id"], amount_cents=data["amount_cents"], paid_at=data["paid_at"],
            channel=data["channel"], member_code=data["member"], share_token=data["share_token"],
            store_code=data["store"], customer_lat=data["customer_lat"], customer_lng=data["customer_lng"],
            actor=who.actor)
        return Response(_order_body(result), status=status.HTTP_200_OK if result.replayed else status.HTTP_201_CREATED)


class OrderRefundedView(APIView):
    permission_classes = [StaffOrIntegration]

    @extend_schema(
        request=OrderRefundedIn,
        responses={200: RefundResultOut,
                   400: OpenApiResponse(ErrorOut, description="invalid, invalid_refund, refund_id_required, "
                                                              "refund_lines_mismatch"),
                   404: OpenApiResponse(ErrorOut, description="brand_not_found, order_not_found"),
                   409: OpenApiResponse(ErrorOut, description="refund_exceeds_order, order_already_refunded, "
                                                              "refund_id_reused")},
        summary="An order was refunded, whole or in part 订单退款(全额/部分): reverse points, commission and coins",
        description="A partial refund (amount_cents or lines, with a refund_id) takes back points, commission, "
                    "coins and experience in proportion to the amount, in whole cents / points; the refund that "
                    "reaches the order's amount takes back the rest. The attributed guide's sales on the "
                    "leaderboards go down by the refunded amount on the day of the sale. 200 for a new refund and "
                    "for a replay (replayed: true).")
    def post(self, request):
        who = principal(request)
        data = _valid(OrderRefundedIn, request)
        brand = brand_get(who, data["brand"])
        lines = data["lines"]
        result = attribution.order_refunded(
            brand=brand, order_id=data["order_id"], refund_id=data["refund_id"], amount_cents=data["amount_cents"],
            lines=None if lines is None else [attribution.RefundLine(**line) for line in lines],
            refunded_at=data["refunded_at"] or timezone.now(), actor=who.actor)
        return Response(_order_body(result, RefundResultOut), status=status.HTTP_200_OK)
