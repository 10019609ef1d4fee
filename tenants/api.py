"""REST API for brands, stores, counters (mall host)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from scrm.api_base import StaffOrIntegration, principal

from . import services
from .access import brand_get, brands_visible
from .models import BrandCategory, Counter, Store


class BrandOut(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    name_en = serializers.CharField()
    category = serializers.CharField()
    status = serializers.CharField()
    sharing_policy = serializers.CharField()
    schema_name = serializers.CharField()
    domain = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_domain(self, brand) -> str | None:
        domain = brand.get_primary_domain()
        return domain.domain if domain else None


class BrandIn(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    name_en = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    slug = serializers.CharField(max_length=40)
    category = serializers.ChoiceField(choices=BrandCategory.choices)


class BrandListView(APIView):
    permission_classes = [StaffOrIntegration]

    @extend_schema(responses=BrandOut(many=True), summary="Brands you may see 可见品牌")
    def get(self, request):
        brands = brands_visible(principal(request)).prefetch_related("domains")
        return Response(BrandOut(brands, many=True).data)

    @extend_schema(request=BrandIn, responses={201: BrandOut}, summary="Onboard a brand (creates its schema) 品牌入驻")
    def post(self, request):
        who = principal(request)
        who.require_mall()
        data = BrandIn(data=request.data)
        data.is_valid(raise_exception=True)
        brand = services.brand_onboard(**data.validated_data, actor=who.actor)
        return Response(BrandOut(brand).data, status=status.HTTP_201_CREATED)


class BrandDetailView(APIView):
    permission_classes = [StaffOrIntegration]

    @extend_schema(responses=BrandOut, summary="One brand 品牌详情")
    def get(self, request, slug: str):
        return Response(BrandOut(brand_get(principal(request), slug)).data)


class BrandStatusView(APIView):
    """Suspend or resume a brand: blocks its logins, keys and enrolments; deletes nothing."""

    permission_classes = [StaffOrIntegration]
    action = "suspend"

    @extend_schema(request=None, responses=BrandOut, summary="Suspend / resume a brand 停用/恢复品牌")
    def post(self, request, slug: str):
        who = principal(request)
        brand = brand_get(who, slug)
        who.require_mall()
        change = services.brand_suspend if self.action == "suspend" else services.brand_resume
        return Response(BrandOut(change(brand=brand, actor=who.actor)).data)


class StoreOut(serializers.ModelSerializer):
    class Meta:
        model = Store
        fields = ["code", "name", "city", "address", "latitude", "longitude", "opening_hours"]


class StoreListView(APIView):
    permission_classes = [StaffOrIntegration]

    @extend_schema(responses=StoreOut(many=True), summary="Stores 门店")
    def get(self, request):
        return Response(StoreOut(Store.objects.all(), many=True).data)


class CounterOut(serializers.ModelSerializer):
    brand = serializers.CharField(source="brand.slug")
    store = serializers.CharField(source="store.code")

    class Meta:
        model = Counter
        fields = ["code", "name", "brand", "store", "floor", "is_active"]


class CounterListView(APIView):
    permission_classes = [StaffOrIntegration]

    @extend_schema(responses=CounterOut(many=True), summary="Counters of the brands you may see 专柜")
    def get(self, request):
        counters = Counter.objects.filter(brand__in=brands_visible(principal(request))).select_related("brand", "store")
        return Response(CounterOut(counters, many=True).data)
