"""Functions on the branches that must not be taken: they fail loudly if they ever run."""

from FaaSr_py.client.py_client_stubs import faasr_log


def test_dontrun_false() -> None:
    faasr_log("test-dontrun-false ran although sync1 returned True")
    raise RuntimeError("test-dontrun-false must not run")


def test_dontrun_true() -> None:
    faasr_log("test-dontrun-true ran although test-run-true returned False")
    raise RuntimeError("test-dontrun-true must not run")
