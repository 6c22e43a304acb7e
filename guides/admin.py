from django.contrib import admin

from guides.models import Guide, Progress


@admin.register(Guide)
class GuideAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "reviewed_at", "review_every_days", "journey_order", "published", "source_path"]
    list_filter = ["kind", "published"]
    search_fields = ["title", "slug"]
    readonly_fields = ["steps", "source_hash"]


@admin.register(Progress)
class ProgressAdmin(admin.ModelAdmin):
    list_display = ["user", "guide", "updated_at"]
    list_select_related = ["user", "guide"]
