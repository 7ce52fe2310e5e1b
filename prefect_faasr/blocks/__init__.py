"""Prefect blocks of prefect-faasr (registered through the `prefect.collections` entry point)."""

from prefect_faasr.blocks.credentials import FaaSrGitHubCredentials, FaaSrOpenWhiskCredentials
from prefect_faasr.blocks.environment import FaaSrEnvironment

__all__ = ["FaaSrEnvironment", "FaaSrGitHubCredentials", "FaaSrOpenWhiskCredentials"]
