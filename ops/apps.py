from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operating the portal: Prometheus metrics, JSON logs, backups of the embedded database."""

    name = "ops"
    verbose_name = "Operations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from ops import logs, metrics

        metrics.connect()
        logs.connect()
