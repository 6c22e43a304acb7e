from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    name = "provisioning"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from portal.health import register_check
        from provisioning.drivers.kubernetes import client as kube

        # /readyz reports the cluster only when one is configured.
        register_check("kubernetes", kube.check_ready, when=kube.configured)
        from provisioning.sandbox import local_compute_problem

        register_check("sandbox", local_compute_problem)

        from provisioning.drivers.slurm import client as slurm_client

        register_check("slurm", slurm_client.check_ready, when=slurm_client.configured)
