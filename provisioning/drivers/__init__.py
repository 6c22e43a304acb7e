"""Drivers register themselves on import; importing this package loads every built-in one."""

from provisioning.drivers import bucket, kubernetes, local_job, local_notebook, postgres, terraform  # noqa: F401
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
)

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
]

from provisioning.drivers import slurm  # noqa: E402, F401  (Slurm: jobs and notebooks on an HPC cluster)
