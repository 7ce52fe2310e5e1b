"""Fault matrix on the local runtime: every fault kind at the entry, a middle function, the fan-in and a
rank instance ends in the statuses design.md's rules give, with a message naming the cause, within the
run budget plus one poll.

Workflow (tests/reliability/data/faultmatrix): start -> [mid, side]; mid -> work(3); work(1..3) and side
-> join (fan-in over work.1, work.2, work.3, side); join -> last. Faults: prefect_faasr/local/faults.py.

All 28 scenarios run at the core level (LocalFaaSr + InvocationObserver + the harness's trigger, no
Prefect), several at once on one runtime; a few run again through the real `faasr_test_run` flow. Each
scenario's time to detect (trigger -> first final status that differs from the happy path) goes to a
table (`pytest -s` prints it) and to `fault-matrix.json` in the pytest tmp dir.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from prefect_faasr.derive import Budgets, Facts, LogFacts, PlatformFacts, Verdict, derive
from prefect_faasr.local import LocalFaaSr, LocalRuntimeClient
from prefect_faasr.logs import errors, parse_log
from prefect_faasr.status import FunctionStatus
from prefect_faasr.workflow import FaaSrWorkflow

from .matrix_helpers import (
    INSTANCES,
    MATRIX,
    Observed,
    format_table,
    matrix_spec,
    run_core,
    write_json,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

C, F, T, K = FunctionStatus.COMPLETED, FunctionStatus.FAILED, FunctionStatus.TIMEOUT, FunctionStatus.SKIPPED

# Budgets small enough for a fast matrix, large enough that a healthy activation on a busy 2-core machine
# never reaches them (a log appears well under a second after a trigger; a function runs well under one).
START, EXECUTION, RUN, POLL, SETTLE = 5.0, 5.0, 30.0, 0.25, 1.0
TIMEOUTS = {"start": START, "execution": EXECUTION, "run": RUN, "poll": POLL, "settle": SETTLE}
# Slack of the "ends within the run budget plus one poll" bound: one settle window (a final log is
# trusted only after it) plus scheduling on a loaded machine. A behavioural bound, not a benchmark.
SLACK = SETTLE + 2.0
DELAY = 1.0  # the delay fault: shorter than every budget
# Delay that makes the faulted rank instance the last of the fan-in's predecessors to finish. Needed
# where its `.done` or its trigger decides whether FaaSr's fan-in gate opens (raise writes `.done`,
# drop_triggers loses the trigger): otherwise the outcome depends on which rank finishes first.
PIN = 1.5
PARALLEL = 4  # scenarios at once on the shared runtime

AFTER = {  # every instance downstream of a position (what a failure there makes skipped)
    "start": ("mid", "side", "work(1)", "work(2)", "work(3)", "join", "last"),
    "mid": ("work(1)", "work(2)", "work(3)", "join", "last"),
    "work(2)": ("join", "last"),
    "join": ("last",),
}
WORK = ("work(1)", "work(2)", "work(3)")
JOIN_LAST = ("join", "last")
POSITIONS = {"start": "entry", "mid": "middle", "join": "fan-in", "work(2)": "rank"}


def skipped(*instances: str) -> dict[str, FunctionStatus]:
    return dict.fromkeys(instances, K)


@dataclass(frozen=True)
class Row:
    """One scenario: the fault at a target, the statuses that differ from `completed`, the instance whose
    message must name the cause (and what it must say), and why the rules give this."""

    kind: str
    target: str
    fault: dict[str, Any]
    expect: dict[str, FunctionStatus]
    witness: str
    says: str
    why: str
    flow: bool = field(default=False)  # also run through the faasr_test_run flow

    @property
    def id(self) -> str:
        return f"{self.kind}@{POSITIONS[self.target]}"

    @property
    def expected(self) -> dict[str, FunctionStatus]:
        return {i: self.expect.get(i, C) for i in INSTANCES}


START_MSG = f"no log within the start budget of {START:g} s"
EXEC_MSG = f"still running after the execution budget of {EXECUTION:g} s"

# fmt: off
MATRIX_ROWS = [
    # ---- raise: row E of contract §5.6 (ERROR records, `.done` written, no successor triggered) ----
    Row("raise", "start", {"raise": "injected at start"}, {"start": F, **skipped(*AFTER["start"])},
        "start", "injected at start", "ERROR record -> failed; nothing triggered -> all downstream skipped"),
    Row("raise", "mid", {"raise": "injected at mid"}, {"mid": F, **skipped(*AFTER["mid"])},
        "mid", "injected at mid", "failed; side runs; work skipped; join's gate never opens -> skipped"),
    Row("raise", "join", {"raise": "injected at join"}, {"join": F, "last": K},
        "join", "injected at join", "the fan-in runs once its gate opens and fails; last never triggered",
        flow=True),
    Row("raise", "work(2)", {"raise": "injected at work 2", "delay": PIN},
        {"work(2)": F, **skipped(*JOIN_LAST)},
        "work(2)", "injected at work 2", "its .done comes last, after every join activation aborted at the "
        "gate; all of them ended and a predecessor failed -> join skipped"),
    # ---- exit code: row F (ERROR 'non-zero exit code', no `.done`, activation exits 1) ----
    Row("exit", "start", {"exit": 3}, {"start": F, **skipped(*AFTER["start"])},
        "start", "exit code (3)", "ERROR record -> failed; no triggers -> downstream skipped"),
    Row("exit", "mid", {"exit": 3}, {"mid": F, **skipped(*AFTER["mid"])},
        "mid", "exit code (3)", "failed; side runs; work skipped; join's gate cannot open -> skipped"),
    Row("exit", "join", {"exit": 3}, {"join": F, "last": K},
        "join", "exit code (3)", "the fan-in fails after its gate opened; last skipped"),
    Row("exit", "work(2)", {"exit": 3}, {"work(2)": F, **skipped(*JOIN_LAST)},
        "work(2)", "exit code (3)", "no work.2.done: join's gate never opens; predecessor failed -> skipped",
        flow=True),
    # ---- hard kill after the user function returned: no `.done`, no final flush, no ERROR record ----
    Row("kill", "start", {"kill": True}, {"start": F, **skipped(*AFTER["start"])},
        "start", "killed by signal 9", "the platform probe reports SIGKILL -> failed; downstream skipped"),
    Row("kill", "mid", {"kill": True}, {"mid": F, **skipped(*AFTER["mid"])},
        "mid", "killed by signal 9", "probe: SIGKILL -> failed; work skipped; join's gate cannot open"),
    Row("kill", "join", {"kill": True}, {"join": F, "last": K},
        "join", "killed by signal 9", "probe: SIGKILL -> failed; last skipped"),
    Row("kill", "work(2)", {"kill": True}, {"work(2)": F, **skipped(*JOIN_LAST)},
        "work(2)", "killed by signal 9", "probe: SIGKILL -> failed; no work.2.done -> join skipped"),
    # ---- hang: a log, never `.done` ----
    Row("hang", "start", {"hang": True}, {"start": T, **skipped(*AFTER["start"])},
        "start", EXEC_MSG, "log but no .done past the execution budget -> timeout; downstream skipped"),
    Row("hang", "mid", {"hang": True}, {"mid": T, **skipped(*AFTER["mid"])},
        "mid", EXEC_MSG, "timeout; side runs; work skipped; join's gate cannot open -> skipped"),
    Row("hang", "join", {"hang": True}, {"join": T, "last": K},
        "join", EXEC_MSG, "the fan-in hangs -> timeout; last skipped"),
    Row("hang", "work(2)", {"hang": True}, {"work(2)": T, **skipped(*JOIN_LAST)},
        "work(2)", EXEC_MSG, "timeout; no work.2.done -> join skipped", flow=True),
    # ---- delay shorter than every budget: nothing to detect ----
    Row("delay", "start", {"delay": DELAY}, {}, "start", "completed with result",
        "a slow function within its budgets completes"),
    Row("delay", "mid", {"delay": DELAY}, {}, "mid", "completed with result", "within budgets"),
    Row("delay", "join", {"delay": DELAY}, {}, "join", "completed with result", "within budgets"),
    Row("delay", "work(2)", {"delay": DELAY}, {}, "work(2)", "completed with result",
        "the slowest rank finishes last; its trigger opens join's gate -> all completed"),
    # ---- drop `.done`: the function runs to the end and triggers its successors, no `.done` ----
    Row("drop_done", "start", {"drop_done": True}, {"start": T},
        "start", EXEC_MSG + " (no .done)", "no .done, so never completed: the execution budget runs out -> "
        "timeout; its successors were triggered and have one predecessor (no gate) -> completed"),
    Row("drop_done", "mid", {"drop_done": True}, {"mid": T},
        "mid", EXEC_MSG + " (no .done)", "timeout; work runs (single predecessor); mid is not join's "
        "predecessor -> the rest completes"),
    Row("drop_done", "join", {"drop_done": True}, {"join": T},
        "join", EXEC_MSG + " (no .done)", "timeout; last was triggered -> completed"),
    Row("drop_done", "work(2)", {"drop_done": True}, {"work(2)": T, **skipped(*JOIN_LAST)},
        "work(2)", EXEC_MSG + " (no .done)", "timeout; join's gate needs work.2.done -> never opens; "
        "a predecessor timed out -> skipped"),
    # ---- drop triggers: the log says 'Succesfully invoked X', X never starts ----
    Row("drop_triggers", "start", {"drop_triggers": True},
        {"mid": T, "side": T, **skipped(*WORK, *JOIN_LAST)},
        "mid", START_MSG, "mid and side are invoked by their trigger lines but never log -> timeout "
        "(start budget); everything after them skipped"),
    Row("drop_triggers", "mid", {"drop_triggers": True}, {**dict.fromkeys(WORK, T), **skipped(*JOIN_LAST)},
        "work(1)", START_MSG, "work(1..3) invoked, never start -> timeout; side runs, but join's gate "
        "cannot open -> skipped"),
    Row("drop_triggers", "join", {"drop_triggers": True}, {"last": T},
        "last", START_MSG, "last invoked by the trigger line, never starts -> timeout"),
    Row("drop_triggers", "work(2)", {"drop_triggers": True, "delay": PIN}, {"join": T, "last": K},
        "join", START_MSG, "work(2) completes last and its trigger is lost: every join activation that "
        "ran aborted at the gate, so the fan-in never gets its last trigger -> timeout (start budget, "
        "counted from when its last predecessor finished); last skipped", flow=True),
]
# fmt: on


def test_the_matrix_covers_every_kind_at_every_position() -> None:
    kinds = {"raise", "exit", "kill", "hang", "delay", "drop_done", "drop_triggers"}
    assert {(r.kind, r.target) for r in MATRIX_ROWS} == {(k, p) for k in kinds for p in POSITIONS}
    assert len(MATRIX_ROWS) == 28 == len({r.id for r in MATRIX_ROWS})


@pytest.fixture(scope="module")
def runtime() -> Any:
    with LocalFaaSr(max_workers=24) as env:
        yield env


@pytest.fixture(scope="module")
def matrix(runtime: LocalFaaSr, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Observed]:
    """Run every row at the core level, PARALLEL at a time; print and save the timing table."""

    def one(row: Row) -> Observed:
        client = LocalRuntimeClient(runtime.info)
        try:
            spec = matrix_spec(
                row.id.replace("@", "-at-").replace("_", "-"), {row.target: row.fault}, TIMEOUTS
            )
            return run_core(client, spec, wait=RUN + 30)
        finally:
            client.close()

    with ThreadPoolExecutor(PARALLEL) as pool:
        results = dict(zip([r.id for r in MATRIX_ROWS], pool.map(one, MATRIX_ROWS), strict=True))
    rows = [_table_row(r, results[r.id]) for r in MATRIX_ROWS]
    columns = ["scenario", "expected", "observed", "detected by", "detect s", "done s", "ok"]
    print(
        "\n\nFault matrix (core level, budgets " + ", ".join(f"{k} {v:g}" for k, v in TIMEOUTS.items()) + ")"
    )
    print(format_table(rows, columns))
    path = write_json(tmp_path_factory.mktemp("fault-matrix") / "fault-matrix.json", rows, timeouts=TIMEOUTS)
    print(f"saved {path}")
    return results


def _table_row(row: Row, obs: Observed) -> dict[str, Any]:
    """Time to detect: trigger -> the witness (where the fault shows) reached its final status."""
    return {
        "scenario": row.id,
        "fault": {row.target: row.fault},
        "expected": _short(row.expected),
        "observed": _short({i: FunctionStatus(s) for i, s in obs.statuses.items()}),
        "detected by": f"{row.witness}: {obs.statuses[row.witness]}",
        "detect s": obs.final_at.get(row.witness),
        "done s": obs.done_after,
        "ok": obs.statuses == {i: s.value for i, s in row.expected.items()},
        "message": obs.message(row.witness),
    }


def _short(statuses: dict[str, FunctionStatus]) -> str:
    """`completed` left out: 'start=failed mid,side=skipped'."""
    groups: dict[str, list[str]] = {}
    for inst, status in statuses.items():
        if status is not C:
            groups.setdefault(status.value, []).append(inst)
    return " ".join(f"{','.join(v)}={k}" for k, v in groups.items()) or "all completed"


@pytest.mark.parametrize("row", MATRIX_ROWS, ids=lambda r: r.id)
def test_fault_ends_in_the_statuses_the_rules_give(row: Row, matrix: dict[str, Observed]) -> None:
    obs = matrix[row.id]
    expected = {i: s.value for i, s in row.expected.items()}
    wrong = {i: f"{obs.statuses[i]} ({obs.message(i)})" for i in INSTANCES if obs.statuses[i] != expected[i]}
    assert not wrong, f"{row.id}: expected {_short(row.expected)}; differs: {wrong}"
    assert row.says in obs.message(row.witness), f"{row.id}: {row.witness}: {obs.message(row.witness)!r}"
    # The run ends within its budget plus one poll (and the slack documented at SLACK).
    assert obs.done_after < RUN + POLL + SLACK, f"{row.id}: every instance final after {obs.done_after} s"


def test_only_a_hang_leaves_an_activation_to_stop(matrix: dict[str, Observed]) -> None:
    # After the statuses are final a hung function is still running: it is stopped (as the flow does),
    # and nothing else is (the grace lets finishing activations exit by themselves).
    leftovers = {row.id: matrix[row.id].leftovers for row in MATRIX_ROWS}
    assert leftovers == {row.id: (row.target,) if row.kind == "hang" else () for row in MATRIX_ROWS}


def test_matrix_leaves_no_activation_running(runtime: LocalFaaSr, matrix: dict[str, Observed]) -> None:
    active = [a for a in runtime.client.activations(docs=False) if a.active]
    assert not active, [(a.invocation_id, a.instance, a.state) for a in active]
    ids = {o.invocation_id for o in matrix.values()}
    assert len(ids) == len(MATRIX_ROWS)  # every scenario had its own invocation


# ---- budgets: a timeout fires after its budget, never before, and within one poll of it ------------


BUDGET_ROWS = [
    r for r in MATRIX_ROWS if r.kind == "hang" or (r.kind == "drop_triggers" and r.target != "work(2)")
]


@pytest.mark.parametrize("row", BUDGET_ROWS, ids=lambda r: r.id)
def test_timeout_fires_within_one_poll_of_its_budget(row: Row, matrix: dict[str, Observed]) -> None:
    # hang: counted from the first log; a lost trigger: from the trigger line (the fan-in row counts from
    # its last predecessor's end, which is not the instance's own start, so it is left out here).
    budget = EXECUTION if row.kind == "hang" else START
    seconds = matrix[row.id].states[row.witness].seconds
    assert seconds is not None and budget <= seconds < budget + POLL + SLACK, (row.id, seconds)


# ---- the same scenarios through the real faasr_test_run flow ----------------------------------------


FLOW_ROWS = [r for r in MATRIX_ROWS if r.flow]


@pytest.fixture(scope="module")
def flow_runs(
    prefect_api: str, state_file: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Any, Any]]:
    """Every FLOW_ROWS scenario through `faasr_test_run`, all at once from threads: (state, result)."""
    from prefect_faasr.flows import faasr_test_run

    folder = tmp_path_factory.mktemp("flow-specs")

    def one(row: Row) -> tuple[Any, Any]:
        spec = folder / f"{row.kind}-{row.target.replace('(', '').replace(')', '')}.yaml"
        data = {
            "name": row.id.replace("@", "-at-").replace("_", "-"),
            "workflow": str(MATRIX / "workflow.json"),
            "functions": str(MATRIX / "functions"),
            "timeouts": TIMEOUTS,
            "faults": {row.target: row.fault},
        }
        spec.write_text(yaml.safe_dump(data))
        state = faasr_test_run(spec=str(spec), local_state=state_file, return_state=True)
        return state, state.result(raise_on_failure=False)

    with ThreadPoolExecutor(len(FLOW_ROWS)) as pool:
        return dict(zip([r.id for r in FLOW_ROWS], pool.map(one, FLOW_ROWS), strict=True))


@pytest.mark.parametrize("row", FLOW_ROWS, ids=lambda r: r.id)
def test_the_flow_reports_the_same_statuses_and_names_the_cause(
    row: Row, runtime: LocalFaaSr, flow_runs: dict[str, tuple[Any, Any]]
) -> None:
    from prefect_faasr.report import TestRunFailed

    state, failed = flow_runs[row.id]
    assert state.is_failed() and isinstance(failed, TestRunFailed), (state.type, state.message)
    report = failed.report
    assert report.statuses == {i: s.value for i, s in row.expected.items()}
    # The one-line reason names the first instance off the happy path and the cause.
    assert f"{row.witness}: expected completed, found {row.expected[row.witness].value}" in state.message
    assert row.says in state.message, state.message
    # Nothing of the run is left running on the shared runtime (a hung function is stopped).
    left = [a for a in runtime.client.activations(report.invocation_id, docs=False) if a.active]
    assert not left, f"activations of {report.invocation_id} still running after the flow: {left}"


# ---- the cause named: a failure seen by its exit code first keeps the log's message -----------------


def test_a_failure_seen_by_its_exit_code_first_takes_the_logs_error_message() -> None:
    # The platform can report a bad exit in the poll before the log's ERROR record is read (the
    # fan-in rows hit this about one time in two): the status is decided, the message follows the log.
    wf = FaaSrWorkflow.parse(MATRIX / "workflow.json")
    exited = "activation ended with exit code 1: user function raised"
    facts = Facts(run_started_at=0.0, listed_at=1.0, marked={"start": 0.0})
    facts.logs["start"] = LogFacts(first_seen=0.5, changed_at=1.0, complete=False)
    facts.platform["start"] = PlatformFacts(started=1, ended=1, ended_at=1.0, bad=exited, bad_at=1.0)
    first = derive(wf, facts, Budgets(), SETTLE)
    assert first["start"] == Verdict(FunctionStatus.FAILED, exited, 1.0)
    log = facts.logs["start"]
    log.errors = tuple(errors(parse_log("[0.9] [ERROR] [executor.py] injected at start")))
    log.complete, log.error_seen_at, facts.listed_at = True, 1.25, 1.25
    second = derive(wf, facts, Budgets(), SETTLE, first)
    assert second["start"] == Verdict(FunctionStatus.FAILED, "ERROR: injected at start", 1.0)
    # A failure the log itself reported first keeps its message.
    assert derive(wf, facts, Budgets(), SETTLE, second)["start"] == second["start"]
