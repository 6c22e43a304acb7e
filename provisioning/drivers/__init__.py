"""Drivers register themselves on import; importing this package loads every built-in one."""

from provisioning.drivers import slurm as _slurm  # noqa: F401  (training jobs and notebooks on an HPC cluster)
from provisioning.drivers.base import (
    Driver,
    DriverError,
    Outputs,
    Queued,
    Status,
    get_driver,
    register,
    registered,
    unavailable_drivers,
    warm_up,
)
from provisioning.drivers.kubernetes import driver as _kubernetes  # noqa: F401
from provisioning.drivers.local import job as _local_job  # noqa: F401
from provisioning.drivers.local import notebook as _local_notebook  # noqa: F401
from provisioning.drivers.postgres import driver as _postgres  # noqa: F401
from provisioning.drivers.s3 import driver as _s3  # noqa: F401
from provisioning.drivers.terraform import driver as _terraform  # noqa: F401

__all__ = [
    "Driver",
    "DriverError",
    "Outputs",
    "Queued",
    "Status",
    "get_driver",
    "register",
    "registered",
    "unavailable_drivers",
    "warm_up",
]
