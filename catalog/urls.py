from django.urls import path

from catalog import views

app_name = "catalog"
urlpatterns = [
    path("", views.entry_list, name="list"),
    path("new/", views.entry_edit, name="new"),
    path("<slug:slug>/", views.entry_detail, name="detail"),
    path("<slug:slug>/edit/", views.entry_edit, name="edit"),
    path("<slug:slug>/delete/", views.entry_delete, name="delete"),
]
