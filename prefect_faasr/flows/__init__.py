"""Prefect flows: one FaaSr test run, and a regression suite of them."""

from prefect_faasr.flows.regression import faasr_regression
from prefect_faasr.flows.test_run import faasr_test_run

__all__ = ["faasr_regression", "faasr_test_run"]
