"""DEMO_MODE: the page that plays customers through the WeCom simulator (404 without DEMO_MODE).

Mounted under the sidebar: /sidebar/demo/ (names: ``sidebar:wecom_demo:...``).
"""

from django.urls import path

from tasks import demo_views as task_demo_views

from . import demo_views as views

app_name = "wecom_demo"

urlpatterns = [
    path("", views.home, name="home"),
    path("scan/", views.scan, name="scan"),
    path("delete-guide/", views.delete_guide, name="delete_guide"),
    path("feed.json", views.feed, name="feed"),
    path("fast-forward/", task_demo_views.fast_forward, name="fast_forward"),
]
