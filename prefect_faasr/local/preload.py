"""Imported once by the forkserver so every activation forked from it starts warm."""

from prefect_faasr.local import engine  # noqa: F401 -- the import is the point
from prefect_faasr.local.stores import warm_up

warm_up()
