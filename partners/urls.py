from django.urls import path

from . import views

app_name = "partners"

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("onboarding/", views.OnboardingView.as_view(), name="onboarding"),
    path("switch-partner/", views.SwitchPartnerView.as_view(), name="switch_partner"),
    # The business
    path("business/", views.ProfileView.as_view(), name="profile"),
    path("business/two-factor/", views.RequireTwoFactorView.as_view(), name="require_2fa"),
    # The team
    path("team/", views.TeamView.as_view(), name="team"),
    path("team/role/", views.ChangeRoleView.as_view(), name="change_role"),
    path("team/remove/", views.RemoveMemberView.as_view(), name="remove_member"),
    path("team/leave/", views.LeaveTeamView.as_view(), name="leave_team"),
    path("team/invitations/<str:public_id>/revoke/", views.RevokeInvitationView.as_view(), name="revoke_invitation"),
    path("invitations/<str:token>/", views.InvitationView.as_view(), name="invitation"),
    # API keys and webhooks
    path("api-keys/", views.ApiKeysView.as_view(), name="api"),
    path("api-keys/<str:public_id>/revoke/", views.RevokeApiKeyView.as_view(), name="revoke_api_key"),
    path("webhooks/", views.WebhooksView.as_view(), name="webhooks"),
    path("webhooks/<str:public_id>/", views.WebhookView.as_view(), name="webhook"),
    path("webhooks/<str:public_id>/enabled/", views.WebhookEnabledView.as_view(), name="webhook_enabled"),
    path("webhooks/<str:public_id>/delete/", views.DeleteWebhookView.as_view(), name="delete_webhook"),
    path("webhooks/<str:public_id>/test/", views.TestWebhookView.as_view(), name="test_webhook"),
    path(
        "webhooks/<str:public_id>/deliveries/<str:delivery_id>/redeliver/",
        views.RedeliverWebhookView.as_view(),
        name="redeliver_webhook",
    ),
    # Security
    path("audit-log/", views.AuditLogView.as_view(), name="audit_log"),
]
