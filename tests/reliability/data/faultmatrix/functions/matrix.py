"""Functions of the fault-matrix workflow: each logs one line, so a completed instance is visible."""

from FaaSr_py.client.py_client_stubs import faasr_log, faasr_rank


def start() -> None:
    faasr_log("start ran")


def mid() -> None:
    faasr_log("mid ran")


def side() -> None:
    faasr_log("side ran")


def work() -> None:
    info = faasr_rank()
    faasr_log(f"work {info['rank']} of {info['max_rank']} ran")


def join() -> None:
    faasr_log("join ran")


def last() -> None:
    faasr_log("last ran")
