"""Status rules of design.md, as a pure function over what the observer saw (no I/O, no clock).

`derive(workflow, facts, budgets, settle, previous)` returns one `Verdict` per function instance, deciding
predecessors first. Per instance, in this order:

- failed: an ERROR/CRITICAL record in its log (also with `.done`), or an activation the platform reports
  as ended badly (exit code != 0, killed by a signal);
- completed: `.done` exists and the log is settled (see "Settled logs" below);
- running: its log exists (timeout past the execution budget while there is no `.done`);
- invoked: marked by the harness, or named by the r-th trigger line of its predecessors (trigger lines
  carry no rank: `x(3)` logs three lines for x(1), x(2), x(3)); timeout when no log appears within the
  start budget (for a fan-in counted from when its last predecessor became final);
- otherwise, once every predecessor instance is final and settled: skipped if one of them failed, timed
  out or was skipped, else not_invoked. A fan-in whose predecessor is final without `.done` can never pass
  FaaSr's gate, even when another predecessor triggered it: skipped or not_invoked by the same test.

Settled logs. An instance's log will not change any more (so its trigger lines are all there) when:
1. the platform says every activation ended and S3 was read after that; or
2. the log holds the final flush: the `Finished execution of A` line comes in the same PUT as the trigger
   lines (contract §4.2), so a log with that line and no ERROR is final at once; or
3. as a fallback, when neither is known, it has been quiet long enough: unchanged, and no new `.done`, for
   `settle` + `Budgets.dispatch` x (trigger requests the action sends, `trigger_requests`) seconds. The
   engine PUTs `.done`, then sends every trigger, then flushes the log once, so an action with many
   successors (a 1000-rank fan-out) or slow ones (GitHub dispatch, ~0.3-1 s each) is silent for that long
   before its final flush. A log with an ERROR record needs `settle` only: the process is exiting.
A log version listed but not read yet is never settled. Successors are judged `not_invoked`/`skipped`
only once every predecessor is settled, so a trigger set that may still grow never makes them final.

Time is only what `Facts` carries: `listed_at` is the time of the latest complete, successful look at S3.
Everything concluded from *absence* (a log that did not appear, a log that stopped changing, a trigger line
that was not written) is judged at `listed_at`, never at "now", and budgets count only time in which S3
could be read (`Facts.blind` intervals are left out). So S3 trouble alone never produces `failed` or
`timeout`: while S3 cannot be read nothing is concluded, and an outage extends every budget by its length.

Final statuses are sticky, with one exception: `completed` becomes `failed` if an ERROR/CRITICAL record
or a bad exit shows up later (e.g. a re-run of the action). A `failed` concluded from the platform's exit
code alone takes the message of the log's first ERROR/CRITICAL record once that is read. `cancelled`
turns everything that is not completed or failed by its own facts into `skipped`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from prefect_faasr.logs import LogRecord
from prefect_faasr.names import split_instance
from prefect_faasr.status import FunctionStatus
from prefect_faasr.validation import FANIN_LISTING_LIMIT
from prefect_faasr.workflow import FaaSrWorkflow

S = FunctionStatus


@dataclass(frozen=True)
class Budgets:
    """Seconds allowed: `start` from invocation to the first log, `execution` from the first log to
    `.done`, `run` for the whole run (from the observer's start), and `dispatch` per trigger request an
    action sends between `.done` and its final log flush (see "Settled logs" above)."""

    start: float = 300.0
    execution: float = 600.0
    run: float = 900.0
    dispatch: float = 1.0


@dataclass
class LogFacts:
    """What is known about one instance's log object."""

    first_seen: float  # time of the listing that first showed it
    changed_at: float  # time of the listing that first showed the current version
    complete: bool = True  # the parsed text is the version the latest listing showed
    errors: tuple[LogRecord, ...] = ()
    error_seen_at: float | None = None
    triggers: dict[str, list[float]] = field(
        default_factory=dict
    )  # action -> when each trigger line appeared
    result: str | None = None  # `Finished execution of A with result X` (only in the final flush)
    records: int = 0


@dataclass
class PlatformFacts:
    """What the compute platform reported about an instance's activations."""

    started: int = 0
    ended: int = 0
    started_at: float | None = None
    ended_at: float | None = None  # when the observer learned about the latest end
    bad: str | None = None  # description of the first activation that ended badly
    bad_at: float | None = None
    first_start: float | None = None  # platform clock: when the first activation started
    last_end: float | None = None  # platform clock: when the latest activation ended

    @property
    def all_ended(self) -> bool:
        return self.ended > 0 and self.ended >= self.started


@dataclass
class Facts:
    """Everything observed about one invocation, as plain data."""

    run_started_at: float | None = None
    listed_at: float | None = None
    logs: dict[str, LogFacts] = field(default_factory=dict)
    done: dict[str, float] = field(default_factory=dict)  # instance -> when `.done` was first seen
    marked: dict[str, float] = field(default_factory=dict)  # instance -> when the harness invoked it
    platform: dict[str, PlatformFacts] = field(default_factory=dict)
    blind: list[tuple[float, float | None]] = field(default_factory=list)  # periods S3 could not be read
    cancelled: tuple[str, float] | None = None

    def active(self, since: float, until: float) -> float:
        """Seconds between two times during which S3 could be read."""
        lost = 0.0
        for a, b in self.blind:
            b = until if b is None else b
            lost += max(0.0, min(b, until) - max(a, since))
        return (until - since) - lost


@dataclass(frozen=True)
class Verdict:
    """Status of one instance, why, and the time the status refers to."""

    status: FunctionStatus
    message: str = ""
    at: float | None = None


def derive(
    workflow: FaaSrWorkflow,
    facts: Facts,
    budgets: Budgets,
    settle: float,
    previous: Mapping[str, Verdict] | None = None,
) -> dict[str, Verdict]:
    """One verdict per instance, in topological order (predecessors are decided first)."""
    out: dict[str, Verdict] = {}
    rules = _Rules(workflow, facts, budgets, settle, out)
    for inst in workflow.instances():
        out[inst] = rules.decide(inst, (previous or {}).get(inst))
    return out


class _Rules:
    def __init__(
        self,
        workflow: FaaSrWorkflow,
        facts: Facts,
        budgets: Budgets,
        settle: float,
        decided: Mapping[str, Verdict],
    ) -> None:
        self.wf, self.f, self.b, self.settle, self.decided = workflow, facts, budgets, settle, decided
        self.now = facts.listed_at
        self._times: dict[str, list[float]] = {}  # action -> trigger_times (one sort per action, not rank)
        self._preds: dict[str, list[str]] = {}  # action -> predecessor instances

    def preds(self, action: str) -> list[str]:
        if action not in self._preds:
            self._preds[action] = self.wf.predecessor_instances(action)
        return self._preds[action]

    def invoked(self, inst: str) -> float | None:
        action, _ = split_instance(inst)
        if action not in self._times:
            self._times[action] = trigger_times(self.wf, self.f, action)
        return invoked_at(self.wf, self.f, inst, self._times[action])

    # ---- helpers over facts ------------------------------------------------------------------

    def settled(self, inst: str) -> bool:
        """The instance's log will not change any more, as far as one can tell (trigger lines complete)."""
        return log_settled(self.wf, self.f, self.b, self.settle, inst)

    def final_settled(self, inst: str) -> bool:
        """Decided final and its log will not change: nothing more will come from this instance."""
        v = self.decided[inst]
        if not v.status.is_final:
            return False
        return v.status is not S.FAILED or self.settled(inst)

    def wrote_done(self, inst: str) -> bool:
        return inst in self.f.done

    def over(self, since: float | None, budget: float) -> bool:
        return since is not None and self.now is not None and self.f.active(since, self.now) > budget

    # ---- the rules ---------------------------------------------------------------------------------

    def decide(self, inst: str, prev: Verdict | None) -> Verdict:
        log = self.f.logs.get(inst)
        plat = self.f.platform.get(inst)
        if prev is not None and prev.status.is_final:
            if prev.status is S.COMPLETED:
                if log is not None and log.errors:
                    msg = f"error after completion: {_first_error(log.errors)}"
                    return Verdict(S.FAILED, msg, log.error_seen_at)
                if plat is not None and plat.bad is not None:
                    return Verdict(S.FAILED, f"{plat.bad} after completion", plat.bad_at)
            elif prev.status is S.FAILED and log and log.errors and plat and prev.message == plat.bad:
                # Failed on the exit code first; the ERROR record (the exception text) was read a poll
                # later and says more: same status, same time, the log's message.
                return Verdict(S.FAILED, _first_error(log.errors), prev.at)
            return prev
        verdict = self._from_facts(inst, log, plat)
        if self.f.cancelled is not None and verdict.status not in (S.COMPLETED, S.FAILED):
            reason, at = self.f.cancelled
            return Verdict(S.SKIPPED, f"run cancelled: {reason}", at)
        return verdict

    def _from_facts(self, inst: str, log: LogFacts | None, plat: PlatformFacts | None) -> Verdict:
        if log is not None and log.errors:
            return Verdict(S.FAILED, _first_error(log.errors), log.error_seen_at)
        if plat is not None and plat.bad is not None:
            return Verdict(S.FAILED, plat.bad, plat.bad_at)
        if self.wrote_done(inst) and self.settled(inst):
            return self._completed(inst)
        if log is not None:
            return self._running(inst, log)
        invoked = self.invoked(inst)
        if invoked is not None:
            return self._invoked(inst, invoked)
        return self._not_yet_invoked(inst)

    def _completed(self, inst: str) -> Verdict:
        log = self.f.logs.get(inst)
        if log is None:
            note = "completed (.done exists but the log never appeared)"
        elif log.result is None:
            note = (
                "completed; note: the log has no final 'Finished execution' line, so it may have crashed "
                "after writing .done (contract §5.6 row H), which only the platform can tell"
            )
        else:
            note = f"completed with result {log.result}"
        return Verdict(S.COMPLETED, note, self.f.done[inst])

    def _running(self, inst: str, log: LogFacts) -> Verdict:
        if not self.wrote_done(inst) and self.over(log.first_seen, self.b.execution):
            msg = f"still running after the execution budget of {self.b.execution:g} s (no .done)"
            return Verdict(S.TIMEOUT, msg, self.now)
        if self._run_over():
            return Verdict(S.TIMEOUT, self._run_message("it was still running"), self.now)
        if self.wrote_done(inst):
            return Verdict(S.RUNNING, ".done written, waiting for the log to settle", log.first_seen)
        return Verdict(S.RUNNING, "log exists", log.first_seen)

    def _invoked(self, inst: str, invoked: float) -> Verdict:
        action, _ = split_instance(inst)
        preds = self.preds(action)
        fan_in = len(preds) > 1
        if fan_in and (blocked := self._gate_blocked(preds)) is not None:
            return blocked
        preds_done = all(self.final_settled(p) for p in preds)
        plat = self.f.platform.get(inst)
        if plat is not None and preds_done and self._activations_over(inst, plat):
            # Every activation ended without writing a log: a fan-in gate that aborted, or a crash
            # before the log handler was attached (contract §5.6 rows A-D).
            if fan_in and (bad := self._bad(preds)):
                return Verdict(S.SKIPPED, f"fan-in gate aborted: predecessor {bad} {self._st(bad)}", self.now)
            msg = "every activation ended without writing a log"
            if fan_in and 2 * len(preds) >= FANIN_LISTING_LIMIT:
                msg += (
                    f": FaaSr's fan-in gate reads one listing of at most {FANIN_LISTING_LIMIT} keys, and "
                    f"the logs and .done files of its {len(preds)} predecessor instances alone are more, "
                    "so it never sees every .done"
                )
            return Verdict(S.FAILED, msg, plat.ended_at)
        start_from: float | None = invoked
        if fan_in:
            # A fan-in can only start once every predecessor instance is final.
            ends = [self.decided[p].at for p in preds]
            start_from = max([invoked, *(t for t in ends if t is not None)]) if preds_done else None
        if self.over(start_from, self.b.start):
            if fan_in and (bad := self._bad(preds)):
                return Verdict(
                    S.SKIPPED,
                    f"no log within the start budget of {self.b.start:g} s; predecessor {bad} "
                    f"{self._st(bad)}, so FaaSr's fan-in gate most likely aborted it",
                    self.now,
                )
            return Verdict(S.TIMEOUT, f"no log within the start budget of {self.b.start:g} s", self.now)
        if self._run_over():
            return Verdict(S.TIMEOUT, self._run_message("it had been invoked but had not started"), self.now)
        how = "invoked by the harness" if inst in self.f.marked else "invoked"
        return Verdict(S.INVOKED, how, invoked)

    def _activations_over(self, inst: str, plat: PlatformFacts) -> bool:
        """The platform ended every activation this instance will get, and S3 was read afterwards."""
        if self.wrote_done(inst) or not plat.all_ended or plat.ended_at is None:
            return False
        if self.now is None or self.now < plat.ended_at:
            return False  # S3 has not been read since the end
        action, _ = split_instance(inst)
        preds = self.preds(action)
        if len(preds) > 1:  # one activation per trigger line
            expected = sum(len(log.triggers.get(action, ())) for p in preds if (log := self.f.logs.get(p)))
            return plat.ended >= expected
        return True

    def _not_yet_invoked(self, inst: str) -> Verdict:
        action, _ = split_instance(inst)
        preds = self.preds(action)
        if preds and all(self.final_settled(p) for p in preds):
            if len(preds) > 1 and (blocked := self._gate_blocked(preds)) is not None:
                return blocked
            at = self._latest(preds)
            if bad := self._bad(preds):
                return Verdict(S.SKIPPED, f"not invoked: predecessor {bad} {self._st(bad)}", at)
            return Verdict(S.NOT_INVOKED, self._not_invoked_reason(action, preds), at)
        if self._run_over():
            return Verdict(S.SKIPPED, self._run_message("it had not been invoked"), self.now)
        return Verdict(S.PENDING, "waiting for predecessors" if preds else "waiting for the trigger")

    def _gate_blocked(self, preds: list[str]) -> Verdict | None:
        """A fan-in whose gate can never open: every predecessor is final and one never wrote `.done`."""
        if not all(self.final_settled(p) for p in preds):
            return None
        missing = [p for p in preds if not self.wrote_done(p)]
        if not missing:
            return None
        at = self._latest(preds)
        if bad := self._bad(preds):
            return Verdict(S.SKIPPED, f"fan-in cannot run: predecessor {bad} {self._st(bad)}", at)
        return Verdict(
            S.NOT_INVOKED, f"fan-in cannot run: predecessor {missing[0]} {self._st(missing[0])}", at
        )

    def _latest(self, preds: Iterable[str]) -> float | None:
        times = [t for p in preds if (t := self.decided[p].at) is not None]
        return max(times) if times else self.now

    def _bad(self, preds: Iterable[str]) -> str | None:
        return next((p for p in preds if self.decided[p].status.is_bad), None)

    def _st(self, inst: str) -> str:
        return self.decided[inst].status.value

    def _not_invoked_reason(self, action: str, preds: list[str]) -> str:
        ran = [p for p in preds if self.decided[p].status is S.COMPLETED]
        if ran:
            return f"not invoked: {ran[0]} completed without triggering {action}"
        return f"not invoked: predecessor {preds[0]} {self._st(preds[0])}"

    def _run_over(self) -> bool:
        return self.over(self.f.run_started_at, self.b.run)

    def _run_message(self, what: str) -> str:
        return f"the run budget of {self.b.run:g} s ran out while {what}"


def trigger_requests(workflow: FaaSrWorkflow, action: str) -> int:
    """Trigger requests an action sends when it succeeds: one per instance of each InvokeNext target
    (ranks expanded), counting the larger branch of a conditional (its result is not known yet)."""
    edges = workflow.successors(action)
    plain = sum(e.rank for e in edges if e.branch is None)
    return plain + max(sum(e.rank for e in edges if e.branch is b) for b in (True, False))


def quiet_needed(workflow: FaaSrWorkflow, budgets: Budgets, settle: float, inst: str) -> float:
    """Seconds without change after which a log lacking its final flush is taken as settled (rule 3)."""
    action, _ = split_instance(inst)
    return settle + budgets.dispatch * trigger_requests(workflow, action)


def log_settled(workflow: FaaSrWorkflow, facts: Facts, budgets: Budgets, settle: float, inst: str) -> bool:
    """Whether an instance's log will not change any more ("Settled logs" in the module docstring)."""
    log = facts.logs.get(inst)
    if log is not None and not log.complete:
        return False
    now = facts.listed_at
    plat = facts.platform.get(inst)
    ended = plat.ended_at if plat is not None and plat.all_ended else None
    if ended is not None and now is not None and now >= ended:
        return True  # the process is gone and S3 was read after it ended
    if log is not None and log.result is not None and not log.errors:
        return True  # the final flush (it carries the result line and the trigger lines) has landed
    anchors = [t for t in (log.changed_at if log else None, facts.done.get(inst)) if t is not None]
    if not anchors:
        return True  # nothing was ever written
    quiet = settle if log is not None and log.errors else quiet_needed(workflow, budgets, settle, inst)
    return now is not None and now - max(anchors) >= quiet


def trigger_times(workflow: FaaSrWorkflow, facts: Facts, action: str) -> list[float]:
    """When each trigger line naming `action` appeared in its predecessors' logs, sorted."""
    return sorted(
        t
        for p in workflow.predecessor_instances(action)
        if (log := facts.logs.get(p))
        for t in log.triggers.get(action, ())
    )


def invoked_at(
    workflow: FaaSrWorkflow, facts: Facts, inst: str, times: list[float] | None = None
) -> float | None:
    """When an instance was invoked: marked by the harness, named by the r-th trigger line of its
    predecessors (trigger lines carry no rank: `x(3)` logs three lines for x(1), x(2), x(3)), or seen.
    `times` is `trigger_times(workflow, facts, action)` when the caller already has it."""
    action, rank = split_instance(inst)
    if times is None:
        times = trigger_times(workflow, facts, action)
    candidates = [facts.marked.get(inst)]
    if len(times) >= (rank or 1):
        candidates.append(times[(rank or 1) - 1])
    if log := facts.logs.get(inst):
        candidates.append(log.first_seen)
    if (plat := facts.platform.get(inst)) and plat.started_at is not None:
        candidates.append(plat.started_at)
    known = [t for t in candidates if t is not None]
    return min(known) if known else None


def _first_error(errors: tuple[LogRecord, ...]) -> str:
    return f"{errors[0].level}: {errors[0].message}"
