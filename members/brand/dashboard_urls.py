"""The brand dashboard on the brand's own domain (<slug>.localhost): sign-in, overview, members."""

from django.urls import include, path

from incentives import dashboard_views as incentive_views
from tasks import dashboard_views as task_views
from tasks.community import dashboard_views as group_task_views
from tasks.mall import dashboard_views as campaign_views
from wecom.brand import dashboard_views as wecom_views

from . import dashboard_views as views

app_name = "dashboard"

urlpatterns = [
    path("login/", views.BrandLoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("", views.overview, name="overview"),
    path("members/", views.member_list, name="member_list"),
    path("members/<str:code>/", views.member_detail, name="member_detail"),
    path("members/<str:code>/qr.svg", views.member_qr, name="member_qr"),
    path("livecodes/", wecom_views.livecodes, name="livecodes"),
    path("livecodes/<int:pk>/qr.png", wecom_views.livecode_qr, name="livecode_qr"),
    path("livecodes/<int:pk>/deactivate/", wecom_views.livecode_deactivate, name="livecode_deactivate"),
    path("groups/", wecom_views.groups, name="groups"),
    path("groups/<int:pk>/", group_task_views.group_detail, name="group_detail"),
    path("groups/nodes/<int:pk>/switch/", group_task_views.group_node_switch, name="group_node_switch"),
    path("tasks/", task_views.program, name="tasks"),
    path("tasks/preview/", task_views.node_preview, name="tasks_preview"),
    path("tasks/hq-nodes/<slug:key>/switch/", task_views.hq_node_switch, name="tasks_hq_node_switch"),
    path("tasks/brand-nodes/<int:pk>/edit/", task_views.brand_node_edit, name="tasks_brand_node_edit"),
    path("tasks/brand-nodes/<int:pk>/preview/", task_views.brand_node_preview, name="tasks_brand_node_preview"),
    path("tasks/brand-nodes/<int:pk>/deactivate/", task_views.brand_node_deactivate, name="tasks_brand_node_deactivate"),
    path("tasks/triggers/<slug:kind>/", task_views.trigger_update, name="tasks_trigger_update"),
    path("campaigns/", campaign_views.campaign_list, name="campaigns"),
    path("campaigns/new/", campaign_views.campaign_new, name="campaign_new"),
    path("campaigns/<int:pk>/", campaign_views.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:pk>/edit/", campaign_views.campaign_edit, name="campaign_edit"),
    path("campaigns/<int:pk>/publish/", campaign_views.campaign_publish, name="campaign_publish"),
    path("campaigns/<int:pk>/refresh/", campaign_views.campaign_refresh, name="campaign_refresh"),
    path("groups/livecodes/<int:pk>/qr.png", wecom_views.group_livecode_qr, name="group_livecode_qr"),
    path("groups/livecodes/<int:pk>/deactivate/", wecom_views.group_livecode_deactivate,
         name="group_livecode_deactivate"),
    path("handovers/", include("guides.handover.dashboard_urls")),
    path("incentives/", incentive_views.report, name="incentives"),
    path("incentives/rewards/", incentive_views.rewards, name="incentives_rewards"),
    path("incentives/leaderboards/", incentive_views.leaderboards_page, name="incentives_leaderboards"),
    path("incentives/rewards/add/", incentive_views.reward_add, name="incentives_reward_add"),
    path("incentives/redemptions/<int:pk>/<str:action>/", incentive_views.redemption_action,
         name="incentives_redemption"),
]
