from django.urls import path

from catalog import radar_views as views

app_name = "radar"
urlpatterns = [
    path("", views.radar, name="radar"),
    path("propose/", views.propose, name="propose"),
    path("<slug:slug>/", views.detail, name="detail"),
    path("<slug:slug>/score/", views.score, name="score"),
    path("<slug:slug>/vote/", views.vote, name="vote"),
    path("<slug:slug>/comment/", views.comment, name="comment"),
]
