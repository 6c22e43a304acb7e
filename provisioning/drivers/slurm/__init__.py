"""Slurm (HPC clusters): training jobs and notebooks as batch jobs. Importing the package registers its drivers."""

from provisioning.drivers.slurm.driver import SlurmJobDriver, SlurmNotebookDriver

__all__ = ["SlurmJobDriver", "SlurmNotebookDriver"]
