from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    name = "provisioning"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from portal.health import register_check
        from provisioning.drivers.kubernetes import client as kube

        # /readyz reports the cluster only when one is configured.
        register_check("kubernetes", kube.check_ready, when=kube.configured)
