"""Handover pages of the brand dashboard, included under "handovers/" by members/brand/dashboard_urls.py
(names live in the "dashboard" namespace)."""

from django.urls import path

from . import dashboard_views as views

urlpatterns = [
    path("", views.handover_list, name="handover_list"),
    path("resign/", views.guide_resign_view, name="handover_guide_resign"),
    path("onjob/", views.onjob_transfer, name="handover_onjob"),
    path("<int:pk>/", views.handover_report, name="handover_report"),
    path("<int:pk>/export.csv", views.handover_csv, name="handover_csv"),
    path("<int:pk>/assign/", views.handover_assign_view, name="handover_assign"),
    path("<int:pk>/run/", views.handover_run_view, name="handover_run"),
]
