from django.urls import path

from portal.teams import views

app_name = "teams"
urlpatterns = [
    path("", views.team_list, name="list"),
    path("join/", views.join, name="join"),
    path("join-requests/<int:pk>/", views.join_decide, name="join-decide"),
    path("quota-requests/<int:pk>/", views.quota_decide, name="quota-decide"),
    path("<slug:slug>/", views.team_detail, name="detail"),
    path("<slug:slug>/edit/", views.team_edit, name="edit"),
    path("<slug:slug>/invite/", views.invite, name="invite"),
    path("<slug:slug>/members/<int:user_id>/", views.member, name="member"),
    path("<slug:slug>/quota/", views.quota_request, name="quota"),
    path("<slug:slug>/webhook/", views.webhook, name="webhook"),
]
