"""The brand dashboard on the brand's own domain (<slug>.localhost): sign-in, overview, members."""

from django.urls import path

from . import dashboard_views as views

app_name = "dashboard"

urlpatterns = [
    path("login/", views.BrandLoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("", views.overview, name="overview"),
    path("members/", views.member_list, name="member_list"),
    path("members/<str:code>/", views.member_detail, name="member_detail"),
    path("members/<str:code>/qr.svg", views.member_qr, name="member_qr"),
]
