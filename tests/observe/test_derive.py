"""The status rules (prefect_faasr.derive), one by one, over hand-made facts: no S3, no clock."""

from __future__ import annotations

from prefect_faasr.derive import (
    Budgets,
    Facts,
    LogFacts,
    PlatformFacts,
    Verdict,
    derive,
    quiet_needed,
    trigger_requests,
)
from prefect_faasr.logs import errors, function_result, parse_log, trigger_lines
from prefect_faasr.status import FunctionStatus
from prefect_faasr.workflow import FaaSrWorkflow

from .shapes import local_fail_wf, local_test_wf, make

S = FunctionStatus
T0 = 1000.0


def trig(action: str) -> str:
    return f"[0.5] [INFO] [scheduler.py] OpenWhisk: Succesfully invoked {action}"


def final(action: str, result: str = "True") -> str:
    return f"[0.4] [DEBUG] [exec] Finished execution of {action} with result {result}"


ERROR = "[0.3] [ERROR] [executor.py] intentional failure"
START = "[0.1] [INFO] [executor.py] Starting server on localhost port 8000"


class Sim:
    """Facts as the observer would collect them, and the verdicts after each look at S3."""

    def __init__(self, wf: FaaSrWorkflow, budgets: Budgets | None = None, settle: float = 5.0) -> None:
        self.wf = wf
        self.facts = Facts(run_started_at=T0)
        self.budgets = budgets or Budgets(start=100, execution=200, run=1000)
        self.settle = settle
        self.verdicts: dict[str, Verdict] = {}

    def log(self, inst: str, *lines: str, at: float, complete: bool = True) -> None:
        records = parse_log("\n".join(lines) + "\n")
        f = self.facts.logs.get(inst) or LogFacts(first_seen=at, changed_at=at)
        f.changed_at, f.complete = at, complete
        f.errors = tuple(errors(records))
        f.error_seen_at = f.error_seen_at or (at if f.errors else None)
        f.result = function_result(records)
        for tl in trigger_lines(records):
            f.triggers.setdefault(tl.action, [])
        for action in f.triggers:
            n = sum(1 for tl in trigger_lines(records) if tl.action == action)
            f.triggers[action] += [at] * (n - len(f.triggers[action]))
        self.facts.logs[inst] = f

    def done(self, inst: str, at: float) -> None:
        self.facts.done[inst] = at

    def ran(self, inst: str, at: float, *successors: str, result: str = "True") -> None:
        """A whole successful run of `inst` seen at once: final flush, .done."""
        action = inst.split("(")[0]
        self.log(inst, START, final(action, result), *(trig(s) for s in successors), at=at)
        self.done(inst, at)

    def look(self, at: float | None) -> dict[str, FunctionStatus]:
        self.facts.listed_at = at
        self.verdicts = derive(self.wf, self.facts, self.budgets, self.settle, self.verdicts)
        return {i: v.status for i, v in self.verdicts.items()}

    def message(self, inst: str) -> str:
        return self.verdicts[inst].message


# ---- invoked / running / completed ------------------------------------------------------------------


def test_entry_is_pending_until_the_harness_invokes_it_and_running_once_its_log_exists() -> None:
    sim = Sim(local_fail_wf())
    assert sim.look(None)["fstart"] is S.PENDING
    sim.facts.marked["fstart"] = T0
    assert sim.look(None)["fstart"] is S.INVOKED
    sim.log("fstart", START, at=T0 + 1)
    assert sim.look(T0 + 1)["fstart"] is S.RUNNING
    assert sim.look(T0 + 1)["boom"] is S.PENDING


def test_done_alone_is_not_completion_the_log_must_settle_for_the_window() -> None:
    # fstart triggers boom and ok: quiet needed = settle 5 + 2 trigger requests x dispatch 1 = 7 s
    sim = Sim(local_fail_wf(), settle=5.0)
    sim.facts.marked["fstart"] = T0
    sim.log("fstart", START, at=T0 + 1)
    sim.done("fstart", T0 + 2)
    assert sim.look(T0 + 2)["fstart"] is S.RUNNING
    assert sim.look(T0 + 8.9)["fstart"] is S.RUNNING  # 6.9 s after .done
    sim.log("fstart", START, trig("boom"), at=T0 + 8.9)  # the final flush, without the result line
    statuses = sim.look(T0 + 9)
    assert statuses["fstart"] is S.RUNNING and statuses["boom"] is S.INVOKED
    assert sim.look(T0 + 15.8)["fstart"] is S.RUNNING
    statuses = sim.look(T0 + 15.9)
    assert statuses["fstart"] is S.COMPLETED
    assert "no final 'Finished execution' line" in sim.message("fstart")
    assert sim.verdicts["fstart"].at == T0 + 2  # finished when .done appeared
    assert statuses["ok"] is S.NOT_INVOKED


def test_trigger_requests_count_ranks_and_the_larger_branch() -> None:
    wf = make({"a": [{"True": ["b(3)"], "False": ["c"]}, "d", "e(2)"], "b": [], "c": [], "d": [], "e": []})
    assert trigger_requests(wf, "a") == 3 + 1 + 2
    assert trigger_requests(wf, "b") == 0
    assert quiet_needed(wf, Budgets(dispatch=0.5), 5.0, "a") == 5.0 + 0.5 * 6
    assert quiet_needed(wf, Budgets(dispatch=0.5), 5.0, "b") == 5.0


def test_a_long_dispatch_phase_never_makes_the_successors_not_invoked() -> None:
    """The entry of a 20-rank fan-out sends 20 triggers at 0.5 s each after `.done` (GitHub-like), so its
    final flush comes 10 s after its last write: longer than the settle window, within its allowance."""
    wf = make({"a": ["x(20)"], "x": ["y"], "y": []})
    sim = Sim(wf, settle=5.0)
    sim.facts.marked["a"] = T0
    sim.log("a", START, at=T0 + 1)
    sim.done("a", T0 + 2)
    sim.log("a", START, "[0.6] [DEBUG] [log.py] Log succesfully uploaded", at=T0 + 2.05)  # get-return echo
    xs = [f"x({r})" for r in range(1, 21)]
    for second in range(3, 13):
        statuses = sim.look(T0 + second)
        assert statuses["a"] is S.RUNNING, f"a decided {statuses['a']} at +{second} s, before its final flush"
        assert {statuses[x] for x in xs} == {S.PENDING}
        assert statuses["y"] is S.PENDING
    sim.log("a", START, final("a", "None"), *(trig("x") for _ in xs), at=T0 + 12.1)
    statuses = sim.look(T0 + 13)
    assert statuses["a"] is S.COMPLETED
    assert {statuses[x] for x in xs} == {S.INVOKED}


def test_without_the_final_line_the_allowance_ends_the_wait_and_it_is_a_budget() -> None:
    wf = make({"a": ["x(20)"], "x": []})
    sim = Sim(wf, budgets=Budgets(start=100, execution=200, run=1000, dispatch=0.25), settle=5.0)
    sim.facts.marked["a"] = T0
    sim.log("a", START, at=T0 + 1)
    sim.done("a", T0 + 2)
    assert sim.look(T0 + 2 + 5 + 20 * 0.25 - 0.1)["a"] is S.RUNNING
    statuses = sim.look(T0 + 2 + 5 + 20 * 0.25)
    assert statuses["a"] is S.COMPLETED  # e.g. row H: crashed after .done, never flushed again
    assert statuses["x(1)"] is S.NOT_INVOKED


def test_a_failed_log_settles_after_the_settle_window_whatever_it_would_have_triggered() -> None:
    wf = make({"a": ["x(20)"], "x": []})
    sim = Sim(wf, settle=5.0)
    sim.facts.marked["a"] = T0
    sim.done("a", T0 + 1)
    sim.log("a", START, trig("x"), ERROR, at=T0 + 1)  # row I: the second trigger failed
    assert sim.look(T0 + 5.9)["x(2)"] is S.PENDING
    statuses = sim.look(T0 + 6)
    assert statuses["a"] is S.FAILED and statuses["x(1)"] is S.INVOKED and statuses["x(2)"] is S.SKIPPED


def test_the_final_flush_line_settles_a_log_at_once() -> None:
    sim = Sim(local_fail_wf(), settle=60)
    sim.facts.marked["fstart"] = T0
    sim.log("fstart", START, at=T0 + 1)
    sim.done("fstart", T0 + 2)
    sim.log("fstart", START, final("fstart"), trig("boom"), trig("ok"), at=T0 + 2)
    statuses = sim.look(T0 + 2)
    assert statuses["fstart"] is S.COMPLETED
    assert sim.message("fstart") == "completed with result True"
    assert statuses["boom"] is S.INVOKED and statuses["ok"] is S.INVOKED


def test_a_log_version_not_yet_read_blocks_completion() -> None:
    sim = Sim(local_fail_wf(), settle=1)
    sim.facts.marked["fstart"] = T0
    sim.log("fstart", START, final("fstart"), at=T0 + 1, complete=False)
    sim.done("fstart", T0 + 1)
    assert sim.look(T0 + 10)["fstart"] is S.RUNNING


# ---- failed --------------------------------------------------------------------------------------------


def test_an_error_record_fails_the_instance_even_when_done_exists() -> None:
    sim = Sim(local_fail_wf())
    sim.ran("fstart", T0, "boom", "ok")
    sim.done("boom", T0 + 1)
    sim.log("boom", START, ERROR, at=T0 + 1)
    statuses = sim.look(T0 + 1)
    assert statuses["boom"] is S.FAILED
    assert sim.message("boom") == "ERROR: intentional failure"


def test_critical_counts_as_error() -> None:
    sim = Sim(local_fail_wf())
    sim.facts.marked["fstart"] = T0
    sim.log("fstart", START, "[0.2] [CRITICAL] [executor.py] Cannot have both", at=T0 + 1)
    assert sim.look(T0 + 1)["fstart"] is S.FAILED


def test_final_statuses_are_sticky_except_completed_turning_failed_on_a_late_error() -> None:
    sim = Sim(local_fail_wf())
    sim.ran("fstart", T0, "boom", "ok")
    sim.ran("ok", T0 + 1, "fjoin")
    assert sim.look(T0 + 1)["ok"] is S.COMPLETED
    sim.log("ok", START, final("ok"), trig("fjoin"), ERROR, at=T0 + 20)  # e.g. a re-run that failed
    assert sim.look(T0 + 20)["ok"] is S.FAILED
    assert sim.message("ok").startswith("error after completion")
    # fstart stays completed whatever its log does now, except for errors
    sim.log("fstart", START, at=T0 + 21)
    assert sim.look(T0 + 21)["fstart"] is S.COMPLETED


# ---- ranks, conditionals, fan-in, not_invoked, skipped -------------------------------------------------


def test_ranked_instances_are_invoked_by_counting_trigger_lines() -> None:
    wf = make({"a": ["x(3)"], "x": ["y"], "y": []})
    sim = Sim(wf)
    sim.facts.marked["a"] = T0
    sim.log("a", START, trig("x"), trig("x"), at=T0 + 1)
    statuses = sim.look(T0 + 1)
    assert [statuses[f"x({r})"] for r in (1, 2, 3)] == [S.INVOKED, S.INVOKED, S.PENDING]
    sim.log("a", START, trig("x"), trig("x"), trig("x"), ERROR, at=T0 + 2)
    statuses = sim.look(T0 + 2)
    assert statuses["x(3)"] is S.INVOKED and statuses["a"] is S.FAILED


def test_a_trigger_that_never_came_for_the_last_rank_makes_it_skipped_once_the_failed_log_settled() -> None:
    wf = make({"a": ["x(3)"], "x": ["y"], "y": []})
    sim = Sim(wf, settle=5)
    sim.facts.marked["a"] = T0
    sim.done("a", T0 + 1)
    sim.log("a", START, trig("x"), trig("x"), ERROR, at=T0 + 1)  # row I: the third trigger failed
    assert sim.look(T0 + 3)["x(3)"] is S.PENDING  # the failed log may still get lines
    statuses = sim.look(T0 + 6)
    assert statuses["x(3)"] is S.SKIPPED
    assert sim.message("x(3)") == "not invoked: predecessor a failed"
    # y is a fan-in over x(1..3): x(3) will never write .done
    assert statuses["y"] is S.PENDING  # x(1), x(2) not final yet


def test_an_untaken_branch_is_not_invoked_transitively() -> None:
    wf = make({"a": [{"True": ["b"], "False": ["c"]}], "b": [], "c": ["e"], "e": ["f(2)"], "f": []})
    sim = Sim(wf)
    sim.facts.marked["a"] = T0
    sim.ran("a", T0 + 1, "b")
    statuses = sim.look(T0 + 1)
    assert statuses["b"] is S.INVOKED
    assert [statuses[i] for i in ("c", "e", "f(1)", "f(2)")] == [S.NOT_INVOKED] * 4
    assert sim.message("c") == "not invoked: a completed without triggering c"
    assert sim.message("e") == "not invoked: predecessor c not_invoked"


def test_a_join_across_both_branches_of_a_conditional_is_not_invoked() -> None:
    wf = make({"a": [{"True": ["b"], "False": ["c"]}], "b": ["d"], "c": ["d"], "d": []})
    sim = Sim(wf)
    sim.facts.marked["a"] = T0
    sim.ran("a", T0 + 1, "b")
    sim.ran("b", T0 + 2, "d")
    statuses = sim.look(T0 + 2)
    assert statuses["c"] is S.NOT_INVOKED
    assert statuses["d"] is S.NOT_INVOKED  # invoked by b, but FaaSr's fan-in gate never opens
    assert sim.message("d") == "fan-in cannot run: predecessor c not_invoked"


def test_a_fan_in_waits_until_every_predecessor_is_final() -> None:
    sim = Sim(local_test_wf())
    sim.ran("start", T0, "prep")
    sim.ran("prep", T0 + 1, "left", "right")
    sim.ran("left", T0 + 2, "join")
    sim.log("right", START, at=T0 + 2)
    statuses = sim.look(T0 + 2)
    assert statuses["never"] is S.NOT_INVOKED
    assert statuses["join"] is S.INVOKED
    assert statuses["worker(1)"] is S.PENDING
    assert sim.look(T0 + 150)["join"] is S.INVOKED  # no start budget while a predecessor still runs


def test_a_failed_predecessor_skips_its_successor_once_its_log_settled() -> None:
    wf = make({"a": ["b"], "b": ["c"], "c": ["d"], "d": []})
    sim = Sim(wf, settle=5)
    sim.ran("a", T0, "b")
    sim.log("b", START, ERROR, at=T0 + 1)
    assert sim.look(T0 + 2)["c"] is S.PENDING
    statuses = sim.look(T0 + 7)
    assert statuses["b"] is S.FAILED and statuses["c"] is S.SKIPPED and statuses["d"] is S.SKIPPED
    assert sim.message("d") == "not invoked: predecessor c skipped"


def test_a_fan_in_still_runs_after_a_failed_predecessor_that_wrote_done() -> None:
    """Contract §5.6 row E and golden run 03: boom raised but wrote .done, ok triggered fjoin, it ran."""
    sim = Sim(local_fail_wf())
    sim.ran("fstart", T0, "boom", "ok")
    sim.done("boom", T0 + 1)
    sim.log("boom", START, ERROR, at=T0 + 1)
    sim.ran("ok", T0 + 2, "fjoin")
    statuses = sim.look(T0 + 30)
    assert statuses["fjoin"] is S.INVOKED
    sim.ran("fjoin", T0 + 31, result="None")
    assert sim.look(T0 + 31)["fjoin"] is S.COMPLETED


def test_a_fan_in_after_a_failed_predecessor_without_done_is_skipped() -> None:
    """Row F: the process exited non-zero, no .done, so the gate never opens although ok triggered it."""
    sim = Sim(local_fail_wf(), settle=5)
    sim.ran("fstart", T0, "boom", "ok")
    sim.log("boom", START, ERROR, at=T0 + 1)
    sim.ran("ok", T0 + 2, "fjoin")
    assert sim.look(T0 + 3)["fjoin"] is S.INVOKED  # boom's log may not have settled
    assert sim.look(T0 + 7)["fjoin"] is S.SKIPPED
    assert sim.message("fjoin") == "fan-in cannot run: predecessor boom failed"


def test_a_fan_in_that_never_starts_after_a_failed_predecessor_is_skipped_at_the_start_budget() -> None:
    """The gate raced: ok's trigger came before boom's .done, so nothing runs (timing, not a timeout)."""
    sim = Sim(local_fail_wf(), budgets=Budgets(start=100, execution=200, run=10_000))
    sim.ran("fstart", T0, "boom", "ok")
    sim.ran("ok", T0 + 2, "fjoin")
    sim.done("boom", T0 + 3)
    sim.log("boom", START, ERROR, at=T0 + 3)
    assert sim.look(T0 + 103)["fjoin"] is S.INVOKED  # 100 s after boom became final, not after the trigger
    assert sim.look(T0 + 120)["fjoin"] is S.SKIPPED
    assert "start budget of 100 s" in sim.message("fjoin") and "boom failed" in sim.message("fjoin")


# ---- budgets -------------------------------------------------------------------------------------------


def test_start_budget() -> None:
    sim = Sim(local_fail_wf(), budgets=Budgets(start=300, execution=600, run=10_000))
    sim.facts.marked["fstart"] = T0
    assert sim.look(T0 + 300)["fstart"] is S.INVOKED
    assert sim.look(T0 + 300.5)["fstart"] is S.TIMEOUT
    assert sim.message("fstart") == "no log within the start budget of 300 s"
    statuses = sim.look(T0 + 301)
    assert statuses["boom"] is S.SKIPPED and statuses["fjoin"] is S.SKIPPED
    assert sim.message("boom") == "not invoked: predecessor fstart timeout"


def test_execution_budget_runs_from_the_first_log_and_stops_at_done() -> None:
    sim = Sim(local_fail_wf(), budgets=Budgets(start=10, execution=60, run=10_000), settle=1000)
    sim.facts.marked["fstart"] = T0
    sim.log("fstart", START, at=T0 + 50)
    # Absence is only concluded from a look at S3: the first look after the invocation sees the log.
    assert sim.look(T0 + 50)["fstart"] is S.RUNNING
    assert sim.look(T0 + 110)["fstart"] is S.RUNNING
    sim.done("ok", T0)  # unrelated
    statuses = sim.look(T0 + 111)
    assert statuses["fstart"] is S.TIMEOUT
    assert sim.message("fstart") == "still running after the execution budget of 60 s (no .done)"

    other = Sim(local_fail_wf(), budgets=Budgets(start=10, execution=60, run=10_000), settle=1000)
    other.facts.marked["fstart"] = T0
    other.log("fstart", START, at=T0 + 1)
    other.done("fstart", T0 + 30)
    assert other.look(T0 + 500)["fstart"] is S.RUNNING  # finishing (waits for its log to settle)


def test_run_budget_times_out_what_runs_and_skips_what_never_started() -> None:
    sim = Sim(local_fail_wf(), budgets=Budgets(start=1000, execution=1000, run=120))
    sim.ran("fstart", T0, "boom", "ok")
    sim.log("boom", START, at=T0 + 1)
    statuses = sim.look(T0 + 121)
    assert statuses["fstart"] is S.COMPLETED
    assert statuses["boom"] is S.TIMEOUT and statuses["ok"] is S.TIMEOUT
    assert sim.message("boom") == "the run budget of 120 s ran out while it was still running"
    assert statuses["fjoin"] is S.SKIPPED


def test_budgets_do_not_count_time_when_s3_could_not_be_read() -> None:
    sim = Sim(local_fail_wf(), budgets=Budgets(start=100, execution=100, run=10_000))
    sim.facts.marked["fstart"] = T0
    sim.facts.blind.append((T0 + 10, None))  # S3 unreadable from T0+10 on
    assert sim.look(T0 + 5)["fstart"] is S.INVOKED
    sim.facts.blind[-1] = (T0 + 10, T0 + 500)  # readable again at T0+500
    assert sim.look(T0 + 500)["fstart"] is S.INVOKED  # only 10 s of readable time passed
    assert sim.look(T0 + 590)["fstart"] is S.INVOKED
    assert sim.look(T0 + 591)["fstart"] is S.TIMEOUT


def test_nothing_times_out_before_s3_was_ever_read() -> None:
    sim = Sim(local_fail_wf(), budgets=Budgets(start=1, execution=1, run=1))
    sim.facts.marked["fstart"] = T0
    assert sim.look(None)["fstart"] is S.INVOKED


# ---- cancel and the platform ----------------------------------------------------------------------------


def test_cancel_skips_every_unfinished_instance_with_the_reason() -> None:
    sim = Sim(local_fail_wf())
    sim.ran("fstart", T0, "boom", "ok")
    sim.log("boom", START, at=T0 + 1)
    sim.facts.cancelled = ("trigger failed: 404", T0 + 2)
    statuses = sim.look(T0 + 2)
    assert statuses == {"fstart": S.COMPLETED, "boom": S.SKIPPED, "ok": S.SKIPPED, "fjoin": S.SKIPPED}
    assert sim.message("boom") == "run cancelled: trigger failed: 404"


def test_a_bad_exit_reported_by_the_platform_fails_the_instance() -> None:
    sim = Sim(local_fail_wf())
    sim.facts.marked["fstart"] = T0
    sim.facts.platform["fstart"] = PlatformFacts(
        started=1, ended=1, ended_at=T0 + 1, bad="activation killed by signal 9"
    )
    assert sim.look(T0 + 1)["fstart"] is S.FAILED
    assert sim.message("fstart") == "activation killed by signal 9"


def test_a_clean_exit_settles_the_log_at_once() -> None:
    """Row H: .done written, log cut before the final flush; with exit 0 (hypothetically) it is final."""
    sim = Sim(local_fail_wf(), settle=600)
    sim.facts.marked["fstart"] = T0
    sim.log("fstart", START, trig("ok"), at=T0 + 1)
    sim.done("fstart", T0 + 1)
    assert sim.look(T0 + 2)["fstart"] is S.RUNNING
    sim.facts.platform["fstart"] = PlatformFacts(started=1, ended=1, ended_at=T0 + 3)
    statuses = sim.look(T0 + 3)
    assert statuses["fstart"] is S.COMPLETED
    assert statuses["boom"] is S.NOT_INVOKED  # the log is final, so boom will never be triggered


def test_an_activation_that_ended_without_a_log_is_failed() -> None:
    sim = Sim(local_fail_wf())
    sim.facts.marked["fstart"] = T0
    sim.facts.platform["fstart"] = PlatformFacts(started=1, ended=1, ended_at=T0 + 1)
    assert sim.look(T0 + 0.5)["fstart"] is S.INVOKED  # S3 not read since the end
    assert sim.look(T0 + 1)["fstart"] is S.FAILED
    assert sim.message("fstart") == "every activation ended without writing a log"


def test_fan_in_activations_that_lost_the_gate_are_not_a_failure_while_more_can_come() -> None:
    sim = Sim(local_fail_wf())
    sim.ran("fstart", T0, "boom", "ok")
    sim.ran("boom", T0 + 1, "fjoin")
    # the first fjoin activation aborted at the gate (ok not done yet) and exited 0
    sim.facts.platform["fjoin"] = PlatformFacts(started=1, ended=1, started_at=T0 + 1, ended_at=T0 + 2)
    assert sim.look(T0 + 2)["fjoin"] is S.INVOKED
    sim.ran("ok", T0 + 3, "fjoin")
    assert sim.look(T0 + 3)["fjoin"] is S.INVOKED  # one activation per trigger line: one more to come
    sim.log("fjoin", START, at=T0 + 4)
    assert sim.look(T0 + 4)["fjoin"] is S.RUNNING


def gate_never_passed(ranks: int) -> Sim:
    """`entry -> work(ranks) -> sink`: every work instance ran and triggered sink, and every sink
    activation ended without a log (its fan-in gate never passed)."""
    sim = Sim(make({"entry": [f"work({ranks})"], "work": ["sink"], "sink": []}))
    sim.ran("entry", T0, "work")
    for r in range(1, ranks + 1):
        sim.ran(f"work({r})", T0 + 1, "sink")
    sim.facts.platform["sink"] = PlatformFacts(started=ranks, ended=ranks, ended_at=T0 + 2)
    assert sim.look(T0 + 10)["sink"] is S.FAILED
    return sim


def test_a_fan_in_over_more_keys_than_one_listing_says_why_it_never_ran() -> None:
    """FaaSr's gate lists at most 1000 keys: over work(500) the 1000 logs and .done files hide some."""
    message = gate_never_passed(500).message("sink")
    assert message.startswith("every activation ended without writing a log: FaaSr's fan-in gate")
    assert "500 predecessor instances" in message


def test_a_small_fan_in_that_never_logged_keeps_the_plain_message() -> None:
    assert gate_never_passed(3).message("sink") == "every activation ended without writing a log"
