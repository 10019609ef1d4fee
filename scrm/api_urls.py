"""REST API v1 (mall host). Schema: /api/schema/, docs: /api/docs/."""

from django.urls import path

from incentives import api as incentives_api
from members import api as members_api
from tenants import api as tenants_api

urlpatterns = [
    path("brands/", tenants_api.BrandListView.as_view(), name="api-brands"),
    path("brands/<slug:slug>/", tenants_api.BrandDetailView.as_view(), name="api-brand"),
    path("brands/<slug:slug>/suspend/", tenants_api.BrandStatusView.as_view(action="suspend"), name="api-brand-suspend"),
    path("brands/<slug:slug>/resume/", tenants_api.BrandStatusView.as_view(action="resume"), name="api-brand-resume"),
    path("brands/<slug:slug>/members/", members_api.BrandMemberListView.as_view(), name="api-brand-members"),
    path("brands/<slug:slug>/members/<str:code>/", members_api.BrandMemberDetailView.as_view(),
         name="api-brand-member"),
    path("brands/<slug:slug>/coupon-templates/", members_api.BrandCouponTemplateListView.as_view(),
         name="api-brand-coupon-templates"),
    path("brands/<slug:slug>/coupons/issue/", members_api.BrandCouponIssueView.as_view(), name="api-brand-coupon-issue"),
    path("brands/<slug:slug>/coupons/<str:code>/", members_api.BrandCouponDetailView.as_view(),
         name="api-brand-coupon"),
    path("brands/<slug:slug>/coupons/<str:code>/view/", members_api.BrandCouponViewedView.as_view(),
         name="api-brand-coupon-view"),
    path("brands/<slug:slug>/coupons/<str:code>/redeem/", members_api.BrandCouponRedeemView.as_view(),
         name="api-brand-coupon-redeem"),
    path("stores/", tenants_api.StoreListView.as_view(), name="api-stores"),
    path("counters/", tenants_api.CounterListView.as_view(), name="api-counters"),
    path("members/", members_api.MemberListView.as_view(), name="api-members"),
    path("members/enroll/", members_api.EnrollView.as_view(), name="api-enroll"),
    path("members/<str:code>/", members_api.MemberDetailView.as_view(), name="api-member"),
    path("members/<str:code>/qr.svg", members_api.MemberQrView.as_view(), name="api-member-qr"),
    path("members/<str:code>/points/", members_api.PointsView.as_view(), name="api-points"),
    path("members/<str:code>/points/ledger/", members_api.PointsLedgerView.as_view(), name="api-points-ledger"),
    path("members/<str:code>/points/earn/", members_api.PointsWriteView.as_view(kind="earn"), name="api-points-earn"),
    path("members/<str:code>/points/redeem/", members_api.PointsWriteView.as_view(kind="redeem"),
         name="api-points-redeem"),
    path("members/<str:code>/points/adjust/", members_api.PointsWriteView.as_view(kind="adjust"),
         name="api-points-adjust"),
    path("members/<str:code>/coupons/", members_api.MemberCouponsView.as_view(), name="api-member-coupons"),
    path("coupon-templates/", members_api.MallCouponTemplateListView.as_view(), name="api-coupon-templates"),
    path("coupons/issue/", members_api.MallCouponIssueView.as_view(), name="api-coupon-issue"),
    path("coupons/<str:code>/", members_api.MallCouponDetailView.as_view(), name="api-coupon"),
    path("coupons/<str:code>/view/", members_api.MallCouponViewedView.as_view(), name="api-coupon-view"),
    path("coupons/<str:code>/redeem/", members_api.MallCouponRedeemView.as_view(), name="api-coupon-redeem"),
    path("events/share/", incentives_api.ShareEventView.as_view(), name="api-events-share"),
    path("events/share/batch/", incentives_api.ShareEventBatchView.as_view(), name="api-events-share-batch"),
    path("events/order-paid/", incentives_api.OrderPaidView.as_view(), name="api-events-order-paid"),
    path("events/order-refunded/", incentives_api.OrderRefundedView.as_view(), name="api-events-order-refunded"),
]
