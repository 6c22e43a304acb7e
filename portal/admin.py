from django.contrib import admin
from rest_framework.authtoken.models import TokenProxy

from portal.audit_admin import AuditedAdminMixin
from portal.models import ApiToken, AuditEvent, Membership, Team


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


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Keepers see and revoke tokens here; keys are never stored, so none can be read or made in the admin."""

    list_display = ["name", "user", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "user__username"]
    readonly_fields = ["user", "name", "prefix", "created_at", "expires_at", "last_used_at"]
    exclude = ["digest"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        from portal.tokens import token_revoke_by_keeper

        for token in queryset:
            token_revoke_by_keeper(token=token, actor=request.user, request=request)


# DRF's own token admin shows and makes plain keys, which no longer authenticate (see portal/tokens.py).
if admin.site.is_registered(TokenProxy):
    admin.site.unregister(TokenProxy)
