from django.contrib import admin

from catalog.models import Entry, HealthCheck, ServiceTransition, Template
from portal.audit_admin import AuditedAdminMixin


class HealthCheckInline(admin.StackedInline):
    """A service's health check: an HTTP address (expected status, optional text) or a TCP host and port."""

    model = HealthCheck
    extra = 0
    max_num = 1
    readonly_fields = ["is_up", "last_probed_at", "last_message", "changed_at"]


@admin.register(Template)
class TemplateAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_name = "template"
    list_display = ["slug", "name", "resource_kind", "driver", "enabled", "version", "warm_pool_size"]
    list_filter = ["resource_kind", "driver", "enabled"]
    search_fields = ["slug", "name"]


@admin.register(Entry)
class EntryAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "lifecycle", "owner_team", "featured", "updated_at"]
    list_filter = ["kind", "lifecycle", "featured"]
    search_fields = ["name", "slug", "summary"]
    exclude = ["search_vector"]
    inlines = [HealthCheckInline]


@admin.register(ServiceTransition)
class ServiceTransitionAdmin(admin.ModelAdmin):
    list_display = ["at", "health_check", "up", "message"]
    list_filter = ["up"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
