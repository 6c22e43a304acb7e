from django.apps import AppConfig


class UtilitiesConfig(AppConfig):
    """Utility services the portal runs itself (identifiers on demand)."""

    name = "utilities"
    default_auto_field = "django.db.models.BigAutoField"
