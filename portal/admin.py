from django.contrib import admin

from portal.audit_admin import AuditedAdminMixin
from portal.models import AuditEvent, Membership, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_name = "team"  # quotas are fields of the team; memberships come through the inline
    list_display = ["slug", "name", "max_notebooks", "max_gpus", "max_storage_gb", "max_databases"]
    search_fields = ["slug", "name"]
    inlines = [MembershipInline]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "actor", "action", "target_repr", "team", "ip"]
    list_filter = ["action", "team"]
    search_fields = ["target_repr", "target_id", "actor__username"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # append-only, the database refuses too
