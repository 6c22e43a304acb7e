from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from catalog import api as catalog_api
from files import api as files_api
from guides import api as guides_api
from guides import views as guides_views
from ops import views as ops_views
from portal import api, health, issue14_urls, status, token_views, views
from provisioning import api as provisioning_api
from provisioning import credential_api, credential_views, declarative_api
from provisioning import views as provisioning_views
from utilities import api as utilities_api
from utilities import project_api
from utilities.urls import project_urlpatterns

api_v1 = [
    path("auth/token/", api.TokenView.as_view(), name="api-token"),
    path("auth/tokens/", token_views.TokenListCreate.as_view(), name="api-tokens"),
    path("auth/tokens/<int:token_id>/", token_views.TokenDetail.as_view(), name="api-token-detail"),
    path("me/", api.MeView.as_view(), name="api-me"),
    path("teams/", api.TeamListView.as_view(), name="api-teams"),
    path("search/", api.SearchView.as_view(), name="api-search"),
    path("catalog/", catalog_api.EntryList.as_view(), name="api-catalog"),
    path("catalog/<slug:slug>/", catalog_api.EntryDetail.as_view(), name="api-catalog-entry"),
    path("guides/", guides_api.GuideList.as_view(), name="api-guides"),
    path("guides/<slug:slug>/", guides_api.GuideDetail.as_view(), name="api-guide"),
    path("guides/<slug:slug>/progress/", guides_api.GuideProgress.as_view(), name="api-guide-progress"),
    path("templates/", provisioning_api.TemplateList.as_view(), name="api-templates"),
    path("templates/<slug:slug>/", provisioning_api.TemplateDetail.as_view(), name="api-template"),
    path("resources/", provisioning_api.ResourceListCreate.as_view(), name="api-resources"),
    path("resources/<uuid:resource_id>/", provisioning_api.ResourceDetail.as_view(), name="api-resource"),
    path("resources/<uuid:resource_id>/stop/", provisioning_api.resource_stop, name="api-resource-stop"),
    path("resources/<uuid:resource_id>/start/", provisioning_api.resource_start, name="api-resource-start"),
    path("resources/<uuid:resource_id>/retry/", provisioning_api.resource_retry, name="api-resource-retry"),
    path("resources/<uuid:resource_id>/cancel/", provisioning_api.resource_cancel, name="api-resource-cancel"),
    path("resources/<uuid:resource_id>/reapply/", provisioning_api.resource_reapply, name="api-resource-reapply"),
    path("resources/<uuid:resource_id>/forget/", provisioning_api.resource_forget, name="api-resource-forget"),
    path("resources/<uuid:resource_id>/approve/", provisioning_api.resource_approve, name="api-resource-approve"),
    path("resources/<uuid:resource_id>/reject/", provisioning_api.resource_reject, name="api-resource-reject"),
    path(
        "resources/<uuid:resource_id>/credentials/",
        provisioning_api.ResourceCredentials.as_view(),
        name="api-resource-credentials",
    ),
    path("resources/<uuid:resource_id>/logs/", provisioning_api.ResourceLogs.as_view(), name="api-resource-logs"),
    path("resources/<uuid:resource_id>/open/", provisioning_api.ResourceOpen.as_view(), name="api-resource-open"),
    path("", include(issue14_urls.api)),
    path("ids/", utilities_api.IdsView.as_view(), name="api-ids"),
    path("resources/<uuid:resource_id>/rotate/", credential_api.ResourceRotate.as_view(), name="api-resource-rotate"),
    path(
        "resources/<uuid:resource_id>/rotation/",
        credential_api.ResourceRotation.as_view(),
        name="api-resource-rotation",
    ),
    path("credentials/", credential_api.CredentialList.as_view(), name="api-credentials"),
    path("teams/<slug:slug>/rotate-credentials/", credential_api.TeamRotate.as_view(), name="api-team-rotate"),
    path("apply/", declarative_api.Apply.as_view(), name="api-apply"),
    path("project-templates/", project_api.ProjectTemplateList.as_view(), name="api-project-templates"),
    path("project-templates/<slug:slug>/generate/", project_api.ProjectGenerate.as_view(), name="api-project-generate"),
    path("projects/<uuid:generation_id>/", project_api.ProjectGenerationDetail.as_view(), name="api-project"),
    path("projects/<uuid:generation_id>/download/", project_api.ProjectDownload.as_view(), name="api-project-download"),
    path("export/", declarative_api.Export.as_view(), name="api-export"),
    path("files/", files_api.RootList.as_view(), name="api-files"),
    path("files/<str:key>/", files_api.RootDetail.as_view(), name="api-files-root"),
    path("files/<str:key>/download/", files_api.Download.as_view(), name="api-files-download"),
    path("files/<str:key>/upload/", files_api.Upload.as_view(), name="api-files-upload"),
    path("files/<str:key>/folders/", files_api.Folders.as_view(), name="api-files-folders"),
    path("files/<str:key>/rename/", files_api.Rename.as_view(), name="api-files-rename"),
    path("files/<str:key>/text/", files_api.Text.as_view(), name="api-files-text"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("teams/switch/", views.team_switch, name="team-switch"),
    path("me/tokens/", token_views.tokens_page, name="tokens"),
    path("me/tokens/<int:token_id>/revoke/", token_views.token_revoke_view, name="token-revoke"),
    path("resources/<uuid:resource_id>/rotate/", credential_views.resource_rotate, name="resource-rotate"),
    path("resources/", include("provisioning.urls")),
    path("credentials/", credential_views.credential_list, name="credentials"),
    path("credentials/policy/", credential_views.credential_policy, name="credentials-policy"),
    path("credentials/teams/<slug:slug>/rotate/", credential_views.team_rotate, name="credentials-team-rotate"),
    path("catalog/", include("catalog.urls")),
    path("files/", include("files.urls")),
    path("guides/", include("guides.urls")),
    path("articles/", guides_views.article_list, name="articles"),
    path("search/", views.search_page, name="search"),
    path("keepers/", views.keepers, name="keepers"),
    path("ids/", include("utilities.urls")),
    path("status/", status.status_page, name="status"),
    path("projects/", include(project_urlpatterns, namespace="projects")),
    path("keepers/modules/", provisioning_views.keeper_modules, name="keeper-modules"),
    path("", include(issue14_urls.pages)),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", ops_views.metrics_view, name="metrics"),
    path("usage/", include("usage.urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", login_not_required(SpectacularAPIView.as_view()), name="api-schema"),
    path("api/docs/", login_not_required(SpectacularSwaggerView.as_view(url_name="api-schema")), name="api-docs"),
]

handler404 = "portal.views.not_found"
handler403 = "portal.views.forbidden"
handler500 = "portal.views.server_error"
