"""The guide sidebar H5 (聊天工具栏) on the mall host: one URL for every brand's guides."""

from django.urls import path

from . import sidebar_views as views

app_name = "sidebar"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("customers/<str:code>/", views.customer_detail, name="customer_detail"),
]
