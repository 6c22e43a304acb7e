"""Drivers register themselves on import; importing this package loads every built-in one."""

from provisioning.drivers import bucket, postgres  # noqa: F401
from provisioning.drivers.base import Driver, DriverError, Outputs, Status, get_driver, register, registered

__all__ = ["Driver", "DriverError", "Outputs", "Status", "get_driver", "register", "registered"]
