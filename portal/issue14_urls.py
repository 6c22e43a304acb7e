"""URLs of teams, notifications, requests to the Keepers and the radar (issue 14), included by portal.urls."""

from django.urls import include, path

from catalog import radar_api
from portal.keeper_requests import api as requests_api
from portal.keeper_requests import views as requests_views
from portal.notifications import api as notifications_api
from portal.teams import api as teams_api
from portal.teams import views as teams_views

pages = [
    path("teams/", include("portal.teams.urls")),
    path("invitations/<str:token>/", teams_views.invitation, name="invitation"),
    path("notifications/", include("portal.notifications.urls")),
    path("ask/", include("portal.keeper_requests.urls")),
    path("keepers/inbox/", requests_views.keeper_inbox, name="keeper-inbox"),
    path("radar/", include("catalog.radar_urls")),
]

api = [
    path("teams/directory/", teams_api.TeamDirectory.as_view(), name="api-team-directory"),
    path("teams/<slug:slug>/", teams_api.TeamDetail.as_view(), name="api-team"),
    path("teams/<slug:slug>/members/", teams_api.MemberList.as_view(), name="api-team-members"),
    path("teams/<slug:slug>/members/<int:user_id>/", teams_api.MemberDetail.as_view(), name="api-team-member"),
    path("teams/<slug:slug>/invitations/", teams_api.InvitationList.as_view(), name="api-team-invitations"),
    path("teams/<slug:slug>/webhook/", teams_api.TeamWebhookView.as_view(), name="api-team-webhook"),
    path("invitations/<str:token>/accept/", teams_api.InvitationAccept.as_view(), name="api-invitation-accept"),
    path("join-requests/", teams_api.JoinRequestList.as_view(), name="api-join-requests"),
    path("join-requests/<int:pk>/decide/", teams_api.JoinRequestDecide.as_view(), name="api-join-request-decide"),
    path("quota-requests/", teams_api.QuotaRequestList.as_view(), name="api-quota-requests"),
    path("quota-requests/<int:pk>/decide/", teams_api.QuotaRequestDecide.as_view(), name="api-quota-request-decide"),
    path("requests/", requests_api.RequestList.as_view(), name="api-requests"),
    path("requests/<int:pk>/", requests_api.RequestDetail.as_view(), name="api-request"),
    path("requests/<int:pk>/replies/", requests_api.RequestReplies.as_view(), name="api-request-replies"),
    path("requests/<int:pk>/status/", requests_api.RequestStatusView.as_view(), name="api-request-status"),
    path("requests/<int:pk>/assign/", requests_api.RequestAssign.as_view(), name="api-request-assign"),
    path("feedback/", requests_api.FeedbackView.as_view(), name="api-feedback"),
    path("notifications/", notifications_api.NotificationList.as_view(), name="api-notifications"),
    path("notifications/read/", notifications_api.NotificationMarkRead.as_view(), name="api-notifications-read"),
    path("notifications/preferences/", notifications_api.PreferenceList.as_view(), name="api-notification-prefs"),
    path(
        "notifications/keep-running/<uuid:resource_id>/",
        notifications_api.KeepRunning.as_view(),
        name="api-keep-running",
    ),
    path("radar/", radar_api.RadarView.as_view(), name="api-radar"),
    path("radar/proposals/", radar_api.ProposalList.as_view(), name="api-proposals"),
    path("radar/proposals/<int:pk>/", radar_api.ProposalDetail.as_view(), name="api-proposal"),
    path("radar/proposals/<int:pk>/scores/", radar_api.ProposalScores.as_view(), name="api-proposal-scores"),
    path("radar/proposals/<int:pk>/votes/", radar_api.ProposalVotes.as_view(), name="api-proposal-votes"),
    path("radar/proposals/<int:pk>/comments/", radar_api.ProposalComments.as_view(), name="api-proposal-comments"),
]
