from django.contrib import admin

from catalog.models import Template


@admin.register(Template)
class TemplateAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "resource_kind", "driver", "enabled", "version"]
    list_filter = ["resource_kind", "driver", "enabled"]
    search_fields = ["slug", "name"]
