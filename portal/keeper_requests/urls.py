from django.urls import path

from portal.keeper_requests import views

app_name = "keeper_requests"
urlpatterns = [
    path("", views.ask, name="ask"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/status/", views.set_status, name="status"),
    path("<int:pk>/assign/", views.assign, name="assign"),
    path("feedback/", views.feedback, name="feedback"),
]
