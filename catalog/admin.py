from django.contrib import admin

from catalog.models import Entry, Template
from portal.audit_admin import AuditedAdminMixin


@admin.register(Template)
class TemplateAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_name = "template"
    list_display = ["slug", "name", "resource_kind", "driver", "enabled", "version"]
    list_filter = ["resource_kind", "driver", "enabled"]
    search_fields = ["slug", "name"]


@admin.register(Entry)
class EntryAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "lifecycle", "owner_team", "featured", "updated_at"]
    list_filter = ["kind", "lifecycle", "featured"]
    search_fields = ["name", "slug", "summary"]
    exclude = ["search_vector"]
