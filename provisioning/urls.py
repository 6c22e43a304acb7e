from django.urls import path

from provisioning import views

app_name = "provisioning"
urlpatterns = [
    path("", views.resource_list, name="list"),
    path("new/", views.template_pick, name="pick"),
    path("new/<slug:slug>/", views.resource_new, name="new"),
    path("new/<slug:slug>/preview/", views.resource_preview, name="preview"),
    path("preview/<uuid:task_id>/", views.resource_preview_result, name="preview-result"),
    path("<uuid:resource_id>/", views.resource_detail, name="detail"),
    path("<uuid:resource_id>/live/", views.resource_live, name="live"),
    path("<uuid:resource_id>/output/", views.resource_output, name="output"),
    path("<uuid:resource_id>/output/download/", views.resource_output_download, name="output-download"),
    path("<uuid:resource_id>/reveal/", views.resource_reveal, name="reveal"),
    path("<uuid:resource_id>/open/", views.resource_open, name="open"),
    path("<uuid:resource_id>/<str:action>/", views.resource_action, name="action"),
]
