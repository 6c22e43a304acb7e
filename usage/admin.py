from django.contrib import admin

from usage.models import Budget, Price, UsageDay


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    list_display = ("template", "size", "per_hour", "per_gb_day")
    list_filter = ("template",)


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    list_display = ("team", "monthly", "refuse_over")


@admin.register(UsageDay)
class UsageDayAdmin(admin.ModelAdmin):
    list_display = ("day", "team", "owner", "resource", "kind", "gpu_hours", "cpu_hours", "storage_gb_days", "cost")
    list_filter = ("kind", "team")
    list_select_related = ("team", "owner", "resource")
    date_hierarchy = "day"
