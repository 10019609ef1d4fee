"""REST API for members (enrolment, points, coupons) on the mall host.

Mall-level objects (the member identity, points, mall coupons) live under /api/v1/members and
/api/v1/coupons; a brand's own objects live under /api/v1/brands/<slug>/ and are read inside that
brand's schema after `brand_get` has checked the caller may see the brand (404 otherwise).
"""

from __future__ import annotations

import segno
from django.db import transaction
from django.http import HttpResponse
from django_tenants.utils import schema_context
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from guides.models import Guide
from scrm.api_base import NewestFirstCursor, StaffOrIntegration, principal
from scrm.errors import AppError, Conflict, Forbidden, NotFound
from tenants.access import Principal, brand_get
from tenants.models import Brand, Store

from . import selectors, services
from .brand.models import BrandCoupon, BrandCouponTemplate, BrandMember
from .models import Coupon, CouponTemplate, Gender, Member, PointsEntry

# --------------------------------------------------------------------------- serializers

class MemberOut(serializers.ModelSerializer):
    first_brand = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    qr_url = serializers.SerializerMethodField()

    class Meta:
        model = Member
        fields = ["code", "name", "gender", "birthday", "tier", "points_balance", "phone_masked",
                  "marketing_consent", "first_brand", "first_channel", "created_at", "qr_url"]

    def get_qr_url(self, member) -> str:
        return f"/api/v1/members/{member.code}/qr.svg"


class BrandMembershipOut(serializers.ModelSerializer):
    source_guide = serializers.SlugRelatedField(slug_field="wecom_userid", read_only=True)

    class Meta:
        model = BrandMember
        fields = ["joined_at", "source_guide", "source_channel", "tags", "notes", "status"]


class BrandMemberOut(serializers.Serializer):
    member = MemberOut()
    membership = BrandMembershipOut(source="*")


class EnrollIn(serializers.Serializer):
    brand = serializers.SlugField(help_text="Brand subdomain slug 品牌")
    external_userid = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    corp_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    unionid = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    member_code = serializers.CharField(max_length=10, required=False, allow_blank=True, default="")
    guide = serializers.CharField(max_length=64, required=False, allow_blank=True, default="",
                                  help_text="The guide's WeCom userid 导购企微账号")
    channel = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    name = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    gender = serializers.ChoiceField(choices=Gender.choices, required=False, allow_blank=True, default="")
    birthday = serializers.DateField(required=False, allow_null=True, default=None)
    marketing_consent = serializers.BooleanField(required=False, allow_null=True, default=None)


class EnrollOut(serializers.Serializer):
    member = MemberOut()
    brand = serializers.CharField()
    membership = BrandMembershipOut()
    member_created = serializers.BooleanField()
    membership_created = serializers.BooleanField()


class PointsIn(serializers.Serializer):
    amount = serializers.IntegerField(help_text="Positive whole points (adjust: non-zero, may be negative)")
    idempotency_key = serializers.CharField(max_length=120, help_text="One key per source event, e.g. order id")
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    brand = serializers.SlugField(required=False, allow_blank=True, default="",
                                  help_text="Where the points were earned/spent (mall callers only)")


class PointsEntryOut(serializers.ModelSerializer):
    brand = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = PointsEntry
        fields = ["id", "kind", "amount", "remaining", "expires_at", "brand", "idempotency_key", "reason",
                  "created_at"]


class PointsSummaryOut(serializers.Serializer):
    member = serializers.CharField()
    balance = serializers.IntegerField()
    available = serializers.IntegerField()
    earned_12m = serializers.IntegerField()
    tier = serializers.CharField()


class PointsWriteOut(serializers.Serializer):
    entry = PointsEntryOut()
    balance = serializers.IntegerField()
    tier = serializers.CharField()
    replayed = serializers.BooleanField()


class CouponTemplateOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    value_cents = serializers.IntegerField()
    discount_percent = serializers.IntegerField(allow_null=True)
    threshold_cents = serializers.IntegerField()
    valid_from = serializers.DateTimeField(allow_null=True)
    valid_until = serializers.DateTimeField(allow_null=True)
    valid_days = serializers.IntegerField(allow_null=True)
    stock = serializers.IntegerField(allow_null=True)
    issued_count = serializers.IntegerField()
    is_active = serializers.BooleanField()


class CouponOut(serializers.Serializer):
    code = serializers.CharField()
    scope = serializers.SerializerMethodField()
    template = serializers.IntegerField(source="template_id")
    template_name = serializers.CharField(source="template.name")
    member = serializers.CharField(source="member.code")
    state = serializers.CharField()
    issued_at = serializers.DateTimeField()
    viewed_at = serializers.DateTimeField(allow_null=True)
    redeemed_at = serializers.DateTimeField(allow_null=True)
    expired_at = serializers.DateTimeField(allow_null=True)
    valid_until = serializers.DateTimeField()
    redemption_id = serializers.CharField(allow_null=True)

    def get_scope(self, coupon) -> str:
        return "brand" if isinstance(coupon, BrandCoupon) else "mall"


class IssueIn(serializers.Serializer):
    template = serializers.IntegerField()
    member = serializers.CharField(max_length=10, help_text="Member code 会员码")
    channel = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


class RedeemIn(serializers.Serializer):
    redemption_id = serializers.CharField(max_length=64, help_text="The POS transaction id; makes retries safe")
    store = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    order_amount_cents = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0)


class RedeemOut(serializers.Serializer):
    coupon = CouponOut()
    replayed = serializers.BooleanField()


# --------------------------------------------------------------------------- helpers

class AlreadyEnrolled(Conflict):
    code = "already_enrolled"

    def __init__(self, result):
        super().__init__("This person is already a member of this brand. 已是本品牌会员。")
        self.result = result


def _valid(serializer_class, request):
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _brand_for_write(who: Principal, slug: str) -> Brand | None:
    """The brand a points/coupon write is booked to: the caller's own brand, or one a mall caller names."""
    if not who.is_mall:
        return Brand.objects.get(pk=who.brand_id)
    return brand_get(who, slug) if slug else None


def _store(code: str) -> Store | None:
    if not code:
        return None
    store = Store.objects.filter(code=code).first()
    if store is None:
        raise AppError("Unknown store. 门店不存在。", code="store_not_found", fields={"store": ["Unknown store code."]})
    return store


def _enroll_payload(result, brand: Brand) -> dict:
    with schema_context(brand.schema_name):
        membership = BrandMember.objects.select_related("source_guide").get(pk=result.brand_member.pk)
        membership_data = BrandMembershipOut(membership).data
    return {"member": MemberOut(result.member).data, "brand": brand.slug, "membership": membership_data,
            "member_created": result.member_created, "membership_created": result.membership_created}


# --------------------------------------------------------------------------- members

class EnrollView(APIView):
    """一码双会员: one scan makes the person the mall's member and the brand's member."""

    permission_classes = [StaffOrIntegration]

    @extend_schema(request=EnrollIn, responses={201: EnrollOut, 409: EnrollOut},
                   summary="Enrol a member into a brand 会员入会 (POS / mini-program)")
    def post(self, request):
        who = principal(request)
        data = _valid(EnrollIn, request)
        brand = brand_get(who, data["brand"])
        guide = None
        if data["guide"]:
            guide = Guide.objects.filter(wecom_userid=data["guide"], brand=brand).first()
            if guide is None:
                raise AppError("Unknown guide for this brand. 该品牌无此导购。", code="invalid_guide",
                               fields={"guide": ["Unknown guide."]})
        identity = services.Identity(external_userid=data["external_userid"], corp_id=data["corp_id"],
                                     unionid=data["unionid"], phone=data["phone"], member_code=data["member_code"])
        profile = services.Profile(name=data["name"], gender=data["gender"], birthday=data["birthday"],
                                   marketing_consent=data["marketing_consent"])
        try:
            with transaction.atomic():
                result = services.member_enroll(brand=brand, identity=identity, profile=profile, guide=guide,
                                                channel=data["channel"], actor=who.actor)
                if not result.membership_created:
                    raise AlreadyEnrolled(result)  # roll back: a duplicate enrolment writes nothing
        except AlreadyEnrolled as duplicate:
            body = {**duplicate.as_dict(), **_enroll_payload(duplicate.result, brand)}
            return Response(body, status=status.HTTP_409_CONFLICT)
        return Response(_enroll_payload(result, brand), status=status.HTTP_201_CREATED)


class MemberListView(APIView):
    permission_classes = [StaffOrIntegration]

    @extend_schema(parameters=[OpenApiParameter("q", str, description="Member code, phone or name prefix")],
                   responses=MemberOut(many=True), summary="Search all mall members (mall staff) 会员搜索")
    def get(self, request):
        principal(request).require_mall()
        queryset = selectors.member_filter_query(Member.objects.select_related("first_brand"),
                                                 request.query_params.get("q", ""))
        paginator = NewestFirstCursor()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(MemberOut(page, many=True).data)


class MemberDetailView(APIView):
    permission_classes = [StaffOrIntegration]

    @extend_schema(responses=MemberOut, summary="A member (mall identity) 会员详情")
    def get(self, request, code: str):
        return Response(MemberOut(selectors.member_get(principal=principal(request), code=code)).data)


class MemberQrView(APIView):
    permission_classes = [StaffOrIntegration]

    @extend_schema(responses={(200, "image/svg+xml"): bytes}, summary="The member code as a QR image 会员码")
    def get(self, request, code: str):
        member = selectors.member_get(principal=principal(request), code=code)
        return HttpResponse(segno.make(member.code, error="m").svg_inline(scale=6), content_type="image/svg+xml")


class PointsView(APIView):
    permission_classes = [StaffOrIntegration]

    @extend_schema(responses=PointsSummaryOut, summary="Points balance 积分余额")
    def get(self, request, code: str):
        member = selectors.member_get(principal=principal(request), code=code)
        return Response(PointsSummaryOut({
            "member": member.code, "balance": member.points_balance, "available": services.points_available(member),
            "earned_12m": services.points_earned_12m(member), "tier": member.tier}).data)


class PointsLedgerView(APIView):
    permission_classes = [StaffOrIntegration]

    @extend_schema(responses=PointsEntryOut(many=True), summary="Points ledger, newest first 积分流水")
    def get(self, request, code: str):
        member = selectors.member_get(principal=principal(request), code=code)
        paginator = NewestFirstCursor()
        page = paginator.paginate_queryset(PointsEntry.objects.filter(member=member).select_related("brand"),
                                           request, view=self)
        return paginator.get_paginated_response(PointsEntryOut(page, many=True).data)


class PointsWriteView(APIView):
    """Earn / redeem / adjust. Idempotent by ``idempotency_key``: a retry returns the first result."""

    permission_classes = [StaffOrIntegration]
    kind = "earn"

    @extend_schema(request=PointsIn, responses={201: PointsWriteOut, 200: PointsWriteOut},
                   summary="Earn / redeem / adjust points 积分")
    def post(self, request, code: str):
        who = principal(request)
        data = _valid(PointsIn, request)
        member = selectors.member_get(principal=who, code=code)
        brand = _brand_for_write(who, data["brand"])
        replayed = PointsEntry.objects.filter(idempotency_key=data["idempotency_key"]).exists()
        common = dict(member=member, amount=data["amount"], idempotency_key=data["idempotency_key"],
                      reason=data["reason"], actor=who.actor, brand=brand)
        if self.kind == "earn":
            entry = services.points_earn(**common)
        elif self.kind == "redeem":
            entry = services.points_redeem(**common)
        else:
            if not who.is_mall or who.role.startswith("integration"):
                raise Forbidden("Only mall staff may adjust points. 仅商场员工可调整积分。", code="mall_staff_only")
            entry = services.points_adjust(**common)
        member.refresh_from_db(fields=["points_balance", "tier"])
        body = PointsWriteOut({"entry": entry, "balance": member.points_balance, "tier": member.tier,
                               "replayed": replayed}).data
        return Response(body, status=status.HTTP_200_OK if replayed else status.HTTP_201_CREATED)


# --------------------------------------------------------------------------- coupons

def _coupon_in_scope(model, code: str):
    coupon = model.objects.select_related("template", "member").filter(code=code).first()
    if coupon is None:
        raise NotFound("Coupon not found. 券不存在。", code="coupon_not_found")
    return coupon


def _issue(request, template_model, who: Principal):
    data = _valid(IssueIn, request)
    template = template_model.objects.filter(pk=data["template"]).first()
    if template is None:
        raise AppError("Unknown coupon template. 券模板不存在。", code="template_not_found",
                       fields={"template": ["Unknown."]})
    member = selectors.member_get(principal=who, code=data["member"])
    coupon = services.coupon_issue(template=template, member=member, channel=data["channel"], actor=who.actor)
    return Response(CouponOut(coupon).data, status=status.HTTP_201_CREATED)


def _redeem(request, model, code: str, who: Principal):
    data = _valid(RedeemIn, request)
    coupon = _coupon_in_scope(model, code)
    coupon, replayed = services.coupon_redeem(coupon=coupon, redemption_id=data["redemption_id"],
                                              store=_store(data["store"]),
                                              order_amount_cents=data["order_amount_cents"], actor=who.actor)
    return Response(RedeemOut({"coupon": coupon, "replayed": replayed}).data,
                    status=status.HTTP_200_OK if replayed else status.HTTP_201_CREATED)


class MallCouponTemplateListView(APIView):
    permission_classes = [StaffOrIntegration]

    @extend_schema(responses=CouponTemplateOut(many=True), summary="Mall coupon templates 商场券模板")
    def get(self, request):
        return Response(CouponTemplateOut(CouponTemplate.objects.order_by("-id"), many=True).data)


class MallCouponIssueView(APIView):
    permission_classes = [StaffOrIntegration]

    @extend_schema(request=IssueIn, responses={201: CouponOut}, summary="Issue a mall coupon 发放商场券")
    def post(self, request):
        who = principal(request)
        who.require_mall()
        return _issue(request, CouponTemplate, who)


class MemberCouponsView(APIView):
    permission_classes = [StaffOrIntegration]

    @extend_schema(responses=CouponOut(many=True),
                   summary="A member's mall coupons (and the caller's brand coupons) 会员的券")
    def get(self, request, code: str):
        who = principal(request)
        member = selectors.member_get(principal=who, code=code)
        coupons = list(selectors.mall_coupons(member=member)[:200])
        if not who.is_mall:
            with schema_context(Brand.objects.get(pk=who.brand_id).schema_name):
                coupons += list(selectors.brand_coupons(member=member)[:200])
        return Response(CouponOut(coupons, many=True).data)


class MallCouponDetailView(APIView):
    permission_classes = [StaffOrIntegration]

    @extend_schema(responses=CouponOut, summary="A mall coupon by code 商场券")
    def get(self, request, code: str):
        return Response(CouponOut(_coupon_in_scope(Coupon, code)).data)


class MallCouponViewedView(APIView):
    permission_classes = [StaffOrIntegration]

    @extend_schema(request=None, responses=CouponOut, summary="Mark a mall coupon viewed 已查看")
    def post(self, request, code: str):
        return Response(CouponOut(services.coupon_view(coupon=_coupon_in_scope(Coupon, code))).data)


class MallCouponRedeemView(APIView):
    """A mall coupon is usable at any brand's counter: every POS may redeem it."""

    permission_classes = [StaffOrIntegration]

    @extend_schema(request=RedeemIn, responses={201: RedeemOut, 200: RedeemOut}, summary="Redeem a mall coupon 核销")
    def post(self, request, code: str):
        return _redeem(request, Coupon, code, principal(request))


# --------------------------------------------------------------------------- brand-scoped

class BrandMemberListView(APIView):
    permission_classes = [StaffOrIntegration]

    @extend_schema(parameters=[OpenApiParameter("q", str), OpenApiParameter("tag", str)],
                   responses=BrandMemberOut(many=True), summary="A brand's members 品牌会员")
    def get(self, request, slug: str):
        brand = brand_get(principal(request), slug)
        with schema_context(brand.schema_name):
            queryset = selectors.brand_members(q=request.query_params.get("q", ""),
                                               tag=request.query_params.get("tag", ""))
            paginator = NewestFirstCursor()
            page = paginator.paginate_queryset(queryset, request, view=self)
            data = BrandMemberOut(page, many=True).data
        return paginator.get_paginated_response(data)


class BrandMemberDetailView(APIView):
    permission_classes = [StaffOrIntegration]

    @extend_schema(responses=BrandMemberOut, summary="A brand member: both memberships 品牌会员详情")
    def get(self, request, slug: str, code: str):
        brand = brand_get(principal(request), slug)
        with schema_context(brand.schema_name):
            return Response(BrandMemberOut(selectors.brand_member_get(code=code)).data)


class BrandCouponTemplateListView(APIView):
    permission_classes = [StaffOrIntegration]

    @extend_schema(responses=CouponTemplateOut(many=True), summary="A brand's coupon templates 品牌券模板")
    def get(self, request, slug: str):
        brand = brand_get(principal(request), slug)
        with schema_context(brand.schema_name):
            return Response(CouponTemplateOut(BrandCouponTemplate.objects.order_by("-id"), many=True).data)


class BrandCouponIssueView(APIView):
    permission_classes = [StaffOrIntegration]

    @extend_schema(request=IssueIn, responses={201: CouponOut}, summary="Issue a brand coupon 发放品牌券")
    def post(self, request, slug: str):
        who = principal(request)
        brand = brand_get(who, slug)
        with schema_context(brand.schema_name):
            data = request.data
            code = data.get("member") if isinstance(data, dict) else None
            if code:  # the member must belong to this brand, whoever asks
                selectors.brand_member_get(code=str(code))
            return _issue(request, BrandCouponTemplate, who)


class BrandCouponDetailView(APIView):
    permission_classes = [StaffOrIntegration]

    @extend_schema(responses=CouponOut, summary="A brand coupon by code 品牌券")
    def get(self, request, slug: str, code: str):
        brand = brand_get(principal(request), slug)
        with schema_context(brand.schema_name):
            return Response(CouponOut(_coupon_in_scope(BrandCoupon, code)).data)


class BrandCouponViewedView(APIView):
    permission_classes = [StaffOrIntegration]

    @extend_schema(request=None, responses=CouponOut, summary="Mark a brand coupon viewed 已查看")
    def post(self, request, slug: str, code: str):
        brand = brand_get(principal(request), slug)
        with schema_context(brand.schema_name):
            return Response(CouponOut(services.coupon_view(coupon=_coupon_in_scope(BrandCoupon, code))).data)


class BrandCouponRedeemView(APIView):
    permission_classes = [StaffOrIntegration]

    @extend_schema(request=RedeemIn, responses={201: RedeemOut, 200: RedeemOut}, summary="Redeem a brand coupon 核销")
    def post(self, request, slug: str, code: str):
        who = principal(request)
        brand = brand_get(who, slug)
        with schema_context(brand.schema_name):
            return _redeem(request, BrandCoupon, code, who)

