"""Test tooling for FaaSr workflows and for prefect-faasr itself (fault proxy, pytest plugin)."""
