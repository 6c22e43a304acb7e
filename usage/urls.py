from django.urls import path

from usage import views

app_name = "usage"
urlpatterns = [
    path("", views.team_usage, name="team"),
    path("export.csv", views.team_export, name="team-export"),
    path("keepers/", views.keeper_usage, name="keepers"),
    path("keepers/export.csv", views.keeper_export, name="keepers-export"),
    path("estimate/<slug:slug>/", views.estimate, name="estimate"),
]
