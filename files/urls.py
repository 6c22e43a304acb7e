from django.urls import path

from files import views

app_name = "files"
urlpatterns = [
    path("", views.files_index, name="index"),
    path("curves/compare/", views.curves_compare, name="compare"),
    path("curves/<uuid:resource_id>/", views.curves_partial, name="curves"),
    path("<str:key>/", views.files_browse, name="browse"),
    path("<str:key>/download/", views.files_download, name="download"),
    path("<str:key>/upload/", views.files_upload, name="upload"),
    path("<str:key>/mkdir/", views.files_mkdir, name="mkdir"),
    path("<str:key>/rename/", views.files_rename, name="rename"),
    path("<str:key>/delete/", views.files_delete, name="delete"),
    path("<str:key>/edit/", views.files_edit, name="edit"),
]
