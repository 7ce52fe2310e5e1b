"""Task: load and validate the test spec (and the workflow it names)."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from prefect_faasr.dryrun import dry_run_spec
from prefect_faasr.spec import TestSpec
from prefect_faasr.status import FunctionStatus


@task(name="validate", cache_policy=NO_CACHE)
def validate_spec(
    spec_path: str, *, dry_run_dir: str | None = None, returns: dict[str, bool] | None = None
) -> tuple[TestSpec, dict[str, FunctionStatus]]:
    """The spec, and the expected final status of every function instance (the expected trace).

    With `dry_run_dir`, the spec runs the workflow's control flow with no-op functions written there.
    """
    spec = dry_run_spec(spec_path, returns, dry_run_dir) if dry_run_dir else TestSpec.load(spec_path)
    return spec, spec.expected_statuses()
