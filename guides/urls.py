from django.urls import path

from guides import views

app_name = "guides"
urlpatterns = [
    path("", views.guide_list, name="list"),
    path("new/", views.guide_edit, name="new"),
    path("<slug:slug>/", views.guide_detail, name="detail"),
    path("<slug:slug>/edit/", views.guide_edit, name="edit"),
    path("<slug:slug>/reviewed/", views.guide_reviewed, name="reviewed"),
    path("<slug:slug>/steps/<slug:step_id>/", views.step_toggle, name="step"),
]
