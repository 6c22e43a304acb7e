from django.urls import path

from utilities import project_views, views

app_name = "utilities"
urlpatterns = [path("", views.ids_page, name="ids")]

project_urlpatterns = (
    [
        path("", project_views.project_list, name="projects"),
        path("generated/<uuid:generation_id>/", project_views.project_detail, name="project-detail"),
        path("generated/<uuid:generation_id>/download/", project_views.project_download, name="project-download"),
        path("<slug:slug>/", project_views.project_new, name="project-new"),
    ],
    "projects",
)
