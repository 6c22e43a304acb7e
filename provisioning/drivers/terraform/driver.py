"""Buckets, databases and any other infrastructure from Terraform modules the Keepers curate."""

from __future__ import annotations

import shutil

from django.conf import settings

from provisioning.drivers.base import Driver, DriverError, Outputs, Status, register
from provisioning.drivers.terraform.engine import TerraformError, Workspace, module_path, terraform_env

STATE_VERSION = 1
PORTAL_ONLY = {"expires_in_days"}  # parameters the portal uses itself, not module variables


def workspace_key(resource) -> str:
    return f"r-{resource.id.hex}"


def variables_for(resource) -> dict:
    """Module variables: the Keeper's fixed values, the scientist's parameters, and sensitive inputs."""
    values = {k: v for k, v in resource.parameters.items() if k not in PORTAL_ONLY}
    values.update({k[4:]: v for k, v in resource.secrets.items() if k.startswith("var:")})
    return values


@register
class TerraformDriver(Driver):
    name = "terraform"
    label = "Terraform"
    kinds = frozenset({"bucket", "database", "terraform"})
    can_reapply = True

    def usage(self, parameters, config=None):
        usage = {"storage_gb": int(parameters.get("storage_gb") or parameters.get("allocated_storage") or 0)}
        return usage

    def _workspace(self, resource, log) -> Workspace:
        try:
            module = module_path(resource.template.config.get("module", ""))
        except TerraformError as exc:
            raise DriverError(f"{exc.message} A Keeper must fix the template.", reason="bad_template") from exc
        return Workspace(
            key=workspace_key(resource),
            module=module,
            folder=settings.DATA_DIR / "terraform" / str(resource.id),
            variables=variables_for(resource),
            log=log,
        )

    def _run(self, resource, log, action):
        workspace = self._workspace(resource, log)
        try:
            workspace.prepare()
            with terraform_env():
                workspace.init()
                return action(workspace)
        except TerraformError as exc:
            raise DriverError(
                exc.message, reason="timeout" if exc.timed_out else "terraform", retryable=exc.retryable
            ) from exc
        finally:
            workspace.cleanup()

    def apply(self, resource, log) -> Outputs:
        limit = resource.template.time_limit_minutes * 60

        def run(workspace):
            return workspace.apply(time_limit=limit)

        result = self._run(resource, log, run)
        inputs = {k: v for k, v in resource.secrets.items() if k.startswith("var:")}
        return Outputs(
            outputs=result.outputs,
            secrets={**inputs, **{k: str(v) for k, v in result.secrets.items()}},
            state={
                "version": STATE_VERSION,
                "workspace": workspace_key(resource),
                "module": resource.template.config.get("module"),
                "summary": result.summary,
            },
            message=f"Ready. {result.summary}".strip(),
        )

    def poll(self, resource) -> Status:
        return Status("ready")  # drift is checked separately: a plan is too slow for every poll

    def drift(self, resource) -> tuple[bool, str]:
        return self._run(resource, lambda line: None, lambda workspace: workspace.plan_drift())

    def destroy(self, resource, log) -> None:
        limit = resource.template.time_limit_minutes * 60

        def run(workspace):
            workspace.apply(time_limit=limit, destroy=True)
            workspace.delete_workspace()

        self._run(resource, log, run)
        shutil.rmtree(settings.DATA_DIR / "terraform" / str(resource.id), ignore_errors=True)
        log("Destroyed everything this resource made and removed its Terraform workspace.")

    def preview(self, resource) -> str:
        """The plan of a resource that does not exist yet; its temporary workspace and folder are removed."""
        lines = []

        def run(workspace):
            try:
                return workspace.plan_summary()
            finally:
                workspace.delete_workspace()

        try:
            summary = self._run(resource, lines.append, run)
        finally:
            shutil.rmtree(settings.DATA_DIR / "terraform" / str(resource.id), ignore_errors=True)
        return "\n".join([*lines, summary])
