"""Helpers of the fault-matrix, compute-outage and load tests: the matrix workflow, one scenario run at
the core level (LocalFaaSr + InvocationObserver + the harness's trigger, no Prefect), timing tables."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

from prefect_faasr.local import LocalFaaSr, LocalRuntimeClient
from prefect_faasr.observe import InstanceState
from prefect_faasr.spec import TestSpec
from prefect_faasr.status import FunctionStatus
from prefect_faasr.testrun import make_observer, open_target, start_invocation

HERE = Path(__file__).resolve().parent
MATRIX = HERE / "data" / "faultmatrix"
EXAMPLE = HERE.parents[1] / "examples" / "integration"

# The matrix workflow: start -> [mid, side]; mid -> work(3); work, side -> join (fan-in); join -> last.
INSTANCES = ("start", "mid", "side", "work(1)", "work(2)", "work(3)", "join", "last")


def matrix_spec(name: str, faults: Mapping[str, Any], timeouts: Mapping[str, float]) -> TestSpec:
    """A spec of the matrix workflow with these faults and budgets (every instance expected completed)."""
    data = {
        "name": name,
        "workflow": "workflow.json",
        "functions": "functions",
        "timeouts": dict(timeouts),
        "faults": dict(faults),
    }
    return TestSpec.from_mapping(data, base_dir=MATRIX, source=f"{name} (fault matrix)")


@dataclass(frozen=True)
class Observed:
    """How one scenario ended, with times in seconds from the trigger."""

    name: str
    invocation_id: str
    states: dict[str, InstanceState] = field(repr=False)
    final_at: dict[str, float]  # instance -> seconds from trigger to its final status
    done_after: float  # seconds from trigger until every instance was final
    leftovers: tuple[str, ...] = ()  # instances whose activations were still running afterwards

    @property
    def statuses(self) -> dict[str, str]:
        return {i: s.status.value for i, s in self.states.items()}

    def message(self, instance: str) -> str:
        return self.states[instance].message


def run_core(client: LocalRuntimeClient, spec: TestSpec, *, wait: float) -> Observed:
    """Start one invocation of `spec` and observe it until every instance is final (or `wait` s pass).

    The same steps as the flow without Prefect: deploy, observer with the spec's budgets and the local
    platform probe, duplicate check + faults + trigger of the entry; afterwards, as the flow does,
    activations still running (a hang) are stopped.
    """
    with open_target(spec, runtime_client=client) as target:
        wf = target.workflow
        env: Any = target.environment
        invocation = wf.new_invocation()
        observer = make_observer(target, spec, wf.keys(invocation))
        observer.start()
        t0 = time.time()
        try:
            start_invocation(target, spec, invocation)
            observer.mark_invoked(wf.entry)
            states = observer.wait_all(timeout=wait)
        except BaseException:
            env.cancel(invocation.invocation_id)
            raise
        finally:
            observer.stop()
        hung = [i for i, s in states.items() if s.status is FunctionStatus.TIMEOUT]
        leftovers = tuple(
            env.stop_leftovers(invocation.invocation_id, timestamp=invocation.timestamp, hung=hung)
        )
    final_at = {i: _final_since(s, t0) for i, s in states.items() if s.status.is_final}
    done_after = max(final_at.values()) if len(final_at) == len(states) else float("inf")
    return Observed(spec.name, invocation.invocation_id, states, final_at, done_after, leftovers)


def _final_since(state: InstanceState, t0: float) -> float:
    """Seconds from `t0` until the instance reached the status it ended with."""
    change = next(c for c in reversed(state.history) if c.status is state.status)
    return round(change.at.timestamp() - t0, 3)


# ---- tables ---------------------------------------------------------------------------------------


def format_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A plain fixed-width text table (pytest -s shows it; the same rows go to JSON)."""
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(out)


def write_json(path: Path, rows: list[dict[str, Any]], **meta: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2, default=_json_default) + "\n")
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    return str(value)


# ---- processes ----------------------------------------------------------------------------------


def process_tree(pid: int) -> list[psutil.Process]:
    """A process and all its descendants that are alive (zombies count as gone)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []
    return [p for p in procs if _alive(p)]


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_all_gone(procs: list[psutil.Process], timeout: float = 10.0) -> list[psutil.Process]:
    """Wait until every process is gone; returns those still alive after `timeout`."""
    deadline = time.monotonic() + timeout
    left = [p for p in procs if _alive(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if _alive(p)]
    return left


def fresh_runtime(**kwargs: Any) -> LocalFaaSr:
    """A started LocalFaaSr (the caller stops it)."""
    return LocalFaaSr(**kwargs).start()
