"""Final S3 state of the real engine's failure scenarios (contract §5.6) through the observer."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from prefect_faasr.observe import InvocationObserver, PlatformEvent
from prefect_faasr.status import FunctionStatus
from prefect_faasr.workflow import FaaSrWorkflow

from .conftest import REAL_RUN, FakeClock

SCENARIOS = REAL_RUN / "engine-scenarios"
C, F, N, K = (
    FunctionStatus.COMPLETED,
    FunctionStatus.FAILED,
    FunctionStatus.NOT_INVOKED,
    FunctionStatus.SKIPPED,
)
HAPPY = {"start": C, "ranked(1)": C, "ranked(2)": C, "ranked(3)": C, "side": C, "never": N, "join": C}

# scenario -> (statuses from S3 alone, what the platform's exit codes change)
CASES: dict[str, tuple[dict[str, FunctionStatus], dict[str, FunctionStatus]]] = {
    "happy": (HAPPY, {}),
    "happylifo": (HAPPY, {}),
    "condnone": ({"c1": F, "t": K, "f": K}, {}),  # row G: .done, then ERROR
    "dup": ({"s2": C}, {"s2": F}),  # a second activation with the same ID exited 1 (row C)
    "fail": ({"s2": C, "bad": F, "after": K}, {}),  # row E
    "fromdate": ({"s2": C}, {}),
    # Row H: .done, a log cut before the final flush, no ERROR: only the exit code shows the failure.
    "missingbranch": ({"c4": C, "x": C, "t": N}, {"c4": F, "t": K}),
    "noinject": ({"ni": F, "x": K}, {}),  # row E
    "retint": ({"c3": C, "t": C, "f": N}, {}),
    "retstr": ({"c2": F, "t": K, "f": K}, {}),  # row F: no .done
    "sysexit": ({"se": F, "x": K}, {}),  # row F
    "trigfail": ({"s2": F, "bad": F, "after": K}, {}),  # row I (bad was started by hand)
}


def dump(folder: Path) -> dict[str, bytes]:
    text = (folder / "s3dump.txt").read_text()
    parts = re.split(r"^=== (.+)$", text, flags=re.M)
    return {key: body.lstrip("\n").encode() for key, body in zip(parts[1::2], parts[2::2], strict=True)}


class ExitCodes:
    """Platform events from the recorded exit codes of every activation."""

    def __init__(self, folder: Path) -> None:
        self.events = []
        for name, (code, _) in json.loads((folder / "results.json").read_text()).items():
            action, _, rank = name.split("-", 1)[1].partition(".")
            inst = f"{action}({rank})" if rank else action
            self.events += [PlatformEvent(inst, "started"), PlatformEvent(inst, "ended", exit_code=code)]

    def poll(self) -> list[PlatformEvent]:
        out, self.events = self.events, []
        return out


@pytest.mark.parametrize("probe", [False, True], ids=["s3-only", "with-exit-codes"])
@pytest.mark.parametrize("scenario", list(CASES))
def test_failure_rows_end_in_the_right_status(
    scenario: str, probe: bool, s3: Any, bucket: str, clock: FakeClock
) -> None:
    folder = SCENARIOS / scenario
    wf = FaaSrWorkflow.parse(folder / "wf.json")
    objects = dump(folder)
    folder_key = next(k for k in objects if k.startswith("FaaSrLog/"))
    _, _, timestamp, invocation_id = folder_key.split("/")[:4]
    for key, body in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    obs = InvocationObserver(
        wf,
        wf.keys(invocation_id, timestamp),
        log_client=s3,
        log_bucket=bucket,
        settle=1.0,
        clock=clock,
        probe=ExitCodes(folder) if probe else None,
    )
    obs.mark_invoked(wf.entry)
    for _ in range(3):
        assert obs.poll_once()
        clock.advance(1.5)

    from_s3, from_platform = CASES[scenario]
    assert obs.statuses() == {**from_s3, **(from_platform if probe else {})}
    if scenario == "missingbranch" and not probe:
        assert "no final 'Finished execution' line" in obs.state("c4").message
