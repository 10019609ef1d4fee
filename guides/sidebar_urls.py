"""The guide sidebar H5 (聊天工具栏) on the mall host: one URL for every brand's guides."""

from django.urls import include, path

from incentives import sidebar_views as incentives_views
from tasks.community import sidebar_views as group_task_views
from tasks.mall import sidebar_views as campaign_views
from tasks.newbie import sidebar_views as newbie_views

from . import sidebar_views as views
from .handover import sidebar_views as handover_views

app_name = "sidebar"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("oauth/start/", views.oauth_start, name="oauth_start"),
    path("oauth/callback/", views.oauth_callback, name="oauth_callback"),
    path("customers/<str:code>/", views.customer_detail, name="customer_detail"),
    path("today/", views.today, name="today"),
    path("inherited/", handover_views.inherited, name="inherited"),
    path("tasks/<int:pk>/done/", views.task_done, name="task_done"),
    path("group-tasks/<int:pk>/done/", group_task_views.group_task_done, name="group_task_done"),
    path("campaigns/", campaign_views.campaigns, name="campaigns"),
    path("campaigns/<int:pk>/claim/", campaign_views.campaign_claim, name="campaign_claim"),
    path("api/campaigns/<int:pk>/claim/", campaign_views.campaign_claim_api, name="campaign_claim_api"),
    path("newbie/steps/<int:pk>/confirm/", newbie_views.step_confirm, name="newbie_step_confirm"),
    path("newbie/moment-check/", newbie_views.moment_check, name="newbie_moment_check"),
    path("me/", incentives_views.me, name="me"),
    path("links/", incentives_views.my_links, name="links"),
    path("links/new/", incentives_views.link_create, name="link_create"),
    path("api/feed/", incentives_views.feed_api, name="feed_api"),
    path("api/leaderboard/", incentives_views.leaderboard_api, name="leaderboard_api"),
    path("rewards/", incentives_views.rewards, name="rewards"),
    path("rewards/<int:pk>/redeem/", incentives_views.reward_redeem, name="reward_redeem"),
    path("links/<int:pk>/demo-buy/", incentives_views.demo_customer_buys, name="link_demo_buy"),
    path("qr/", views.my_qr, name="my_qr"),
    path("qr/<int:pk>.png", views.my_qr_image, name="my_qr_image"),
    path("jssdk/config", views.jssdk_config, name="jssdk_config"),
    path("api/contact/", views.contact_resolve, name="contact_resolve"),
    path("api/demo-chats/", views.demo_chats, name="demo_chats"),
    # DEMO_MODE: drive the WeCom simulator as customers would (404 otherwise)
    path("demo/", include("wecom.demo_urls")),
]
