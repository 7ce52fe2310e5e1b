"""prefect-faasr: test FaaSr serverless workflows as Prefect flows."""

__version__ = "0.1.0"
