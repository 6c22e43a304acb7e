from django.contrib import admin, messages

from portal.errors import PortalError
from utilities import projects
from utilities.models import ProjectGeneration, ProjectTemplate


@admin.register(ProjectTemplate)
class ProjectTemplateAdmin(admin.ModelAdmin):
    """Keepers register copier templates here; a folder's questions are read on save (a git URL's on first use)."""

    list_display = ["slug", "name", "source", "ref", "enabled", "updated_at"]
    readonly_fields = ["questions"]

    def save_model(self, request, obj, form, change):
        try:
            obj.questions = {} if projects._is_git(obj.source) else projects.read_questions(obj.source, obj.ref)
        except PortalError as exc:
            messages.error(request, exc.message)
            obj.questions = {}
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(ProjectGeneration)
class ProjectGenerationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "template", "user", "version", "state"]
    list_filter = ["state", "template"]
    exclude = ["archive"]
    readonly_fields = ["template", "user", "answers", "version", "state", "error", "finished_at"]

    def has_add_permission(self, request):
        return False
