from django.contrib import admin

from provisioning.models import Event, Operation, Resource


class OperationInline(admin.TabularInline):
    model = Operation
    extra = 0
    fields = ["action", "state", "attempt", "worker", "started_at", "finished_at", "error"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True


@admin.register(Resource)
class ResourceAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "team", "owner", "state", "created_at"]
    list_filter = ["state", "kind", "team"]
    search_fields = ["name", "id", "owner__username"]
    # The state moves only through services and the engine (the transition table in states.py).
    readonly_fields = ["id", "state", "outputs", "driver_state", "created_at", "updated_at", "deleted_at"]
    exclude = ["secrets_encrypted"]
    inlines = [OperationInline]
    list_select_related = ["team", "owner"]


@admin.register(Operation)
class OperationAdmin(admin.ModelAdmin):
    list_display = ["id", "resource", "action", "state", "attempt", "worker", "created_at"]
    list_filter = ["state", "action"]
    readonly_fields = [f.name for f in Operation._meta.fields]
    list_select_related = ["resource"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["at", "resource", "level", "message"]
    list_filter = ["level"]
    list_select_related = ["resource"]
