from django.urls import path

from portal.notifications import views

app_name = "notifications"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("read/", views.mark_read, name="read"),
    path("preferences/", views.preferences, name="preferences"),
    path("keep-running/<uuid:resource_id>/", views.keep_running, name="keep-running"),
    path("<int:pk>/", views.open_one, name="open"),
]
