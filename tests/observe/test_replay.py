"""The observer against the real engine's recorded S3 writes, replayed into moto in recorded order."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from prefect_faasr.observe import InvocationObserver
from prefect_faasr.oracle import diff_statuses, expected_trace, format_diff
from prefect_faasr.status import FunctionStatus
from prefect_faasr.workflow import FaaSrWorkflow

from . import replay
from .conftest import REAL_RUN, WORKFLOWS, FakeClock

pytestmark = pytest.mark.slow  # about a second each: every recorded write goes through HTTP

S = FunctionStatus
SCENARIOS = {
    "01-serial-container": ("LocalTestWF.json", {"prep": True}, {}),
    "02-concurrent-container": ("LocalTestWF.json", {"prep": True}, {}),
    "03-fail-serial-container": ("LocalFailWF.json", {}, {"boom": "failed"}),
    "04-fail-concurrent-container": ("LocalFailWF.json", {}, {"boom": "failed"}),
}
PHASE = {S.PENDING: 0, S.INVOKED: 1, S.RUNNING: 2}  # final statuses are phase 3


def _phase(status: FunctionStatus) -> int:
    return PHASE.get(status, 3)


class Run:
    """A replay in progress: the S3 content so far and every status the observer reported."""

    def __init__(self, scenario: str, s3: Any, bucket: str, clock: FakeClock, **observer: Any) -> None:
        wf_file, self.returns, self.expect = SCENARIOS[scenario]
        self.rec = replay.load(scenario, REAL_RUN)
        self.wf = FaaSrWorkflow.parse(WORKFLOWS / wf_file)
        self.keys = self.wf.keys(*self.rec.invocation)
        self.s3, self.bucket, self.clock = s3, bucket, clock
        clock.now = self.rec.first_at - 1
        self.obs = InvocationObserver(
            self.wf, self.keys, log_client=s3, log_bucket=bucket, settle=1.0, clock=clock, **observer
        )
        self.obs.mark_invoked(self.wf.entry)
        self.content: dict[str, bytes] = {}
        self.final_content = {}
        for m in self.rec.mutations:
            if m.method == "PUT":
                self.final_content[m.key] = m.body
            else:
                self.final_content.pop(m.key, None)
        self.seen: dict[str, list[FunctionStatus]] = defaultdict(list)
        self.polls = 0
        self.listings: list[tuple[bool, int]] = []  # per poll: (all final and settled before it, listings)

    def play(self, cadence: float | None, **apply: Any) -> None:
        for t, batch in replay.steps(self.rec, cadence):
            for m in batch:
                replay.apply(m, self.s3, self.bucket, **apply)
                if m.method == "PUT":
                    self.content[m.key] = m.body
                else:
                    self.content.pop(m.key, None)
            self.clock.now = t
            self.poll()
        for _ in range(3):  # past the settle window: every log is final now
            self.clock.advance(2.0)
            self.poll()

    def poll(self) -> None:
        finished = self.obs._finished_reading()
        before = self.obs.stats.requests["ListObjectsV2"]
        assert self.obs.poll_once()
        self.listings.append((finished, self.obs.stats.requests["ListObjectsV2"] - before))
        self.polls += 1
        for inst, status in self.obs.statuses().items():
            before = self.seen[inst][-1] if self.seen[inst] else None
            if status is S.COMPLETED and before is not S.COMPLETED:
                self.check_completion(inst)
            if status is not before:
                self.seen[inst].append(status)

    def check_completion(self, inst: str) -> None:
        done, log = self.keys.done_key(inst), self.keys.log_key(inst)
        assert done in self.content, f"{inst} completed before its .done existed"
        # Completed only once the final flush (with the trigger lines) landed: contract §7.4.2.
        assert self.content.get(log) == self.final_content.get(log), (
            f"{inst} completed before its log settled"
        )


@pytest.mark.parametrize("cadence", [None, 0.2], ids=["every-write", "poll-0.2s"])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_replayed_run_matches_the_oracle_and_never_reports_a_false_status(
    scenario: str, cadence: float | None, s3: Any, bucket: str, clock: FakeClock
) -> None:
    run = Run(scenario, s3, bucket, clock)
    run.play(cadence)

    expected = expected_trace(run.wf, run.returns, run.expect)
    observed = run.obs.statuses()
    assert not diff_statuses(expected, observed), format_diff(diff_statuses(expected, observed))
    assert run.obs.done

    ran = {inst for inst in run.wf.instances() if run.keys.log_key(inst) in run.final_content}
    for inst, history in run.seen.items():
        phases = [_phase(s) for s in history]
        assert phases == sorted(phases), f"{inst} went backwards: {history}"
        finals = [s for s in history if s.is_final]
        assert finals in ([finals[0]] if finals else [], [S.COMPLETED, S.FAILED]), f"{inst}: {history}"
        if inst in ran:
            assert not {S.NOT_INVOKED, S.SKIPPED, S.TIMEOUT} & set(history), f"{inst} ran, yet {history}"


@pytest.mark.parametrize("scenario", ["01-serial-container", "03-fail-serial-container"])
def test_reading_costs_one_listing_per_poll_and_only_new_log_bytes(
    scenario: str, s3: Any, bucket: str, clock: FakeClock
) -> None:
    run = Run(scenario, s3, bucket, clock)
    run.play(0.2)
    stats = run.obs.stats

    # One listing per poll (one page, its instances fit) until everything is final and settled, then none.
    assert run.polls == stats.polls
    assert {n for finished, n in run.listings if not finished} == {1}
    assert {n for finished, n in run.listings if finished} == {0}
    assert set(stats.requests) <= {"ListObjectsV2", "GetObject"}
    log_keys = [k for k in run.final_content if run.keys.classify(k) and run.keys.classify(k)[0] == "log"]
    versions = sum(1 for m in run.rec.mutations if m.key in log_keys)
    assert stats.requests["GetObject"] <= versions
    final_bytes = sum(len(run.final_content[k]) for k in log_keys)
    # Each log is downloaded about once in total: its final size plus a 64-byte overlap per read.
    assert stats.bytes_by_operation["GetObject"] <= final_bytes + 64 * stats.requests["GetObject"]
    assert stats.rereads == 0
    # What the records() API forwards is exactly the final log, parsed.
    for inst in run.wf.instances():
        key = run.keys.log_key(inst)
        if key in run.final_content:
            text = run.final_content[key].decode()
            assert "\n".join(str(r.text) for r in run.obs.records(inst)) == _texts(text)


def _texts(text: str) -> str:
    from prefect_faasr.logs import parse_log

    return "\n".join(r.text for r in parse_log(text))


def test_replay_with_a_separate_done_store_lists_both_and_agrees(
    s3: Any, bucket: str, clock: FakeClock, moto_endpoint: str
) -> None:
    from prefect_faasr.s3client import s3_client

    other = s3_client(moto_endpoint, "us-east-1", "test", "test")
    done_bucket = bucket + "-done"
    other.create_bucket(Bucket=done_bucket)
    run = Run("03-fail-serial-container", s3, bucket, clock, done_client=other, done_bucket=done_bucket)
    run.content = {}
    run.play(0.2, done_s3=other, done_bucket=done_bucket)

    assert run.obs.statuses() == expected_trace(run.wf, {}, {"boom": "failed"})
    # Small folders: one listing per store and poll while something there can change.
    per_poll = [n for finished, n in run.listings if not finished]
    assert per_poll[0] == 2 and set(per_poll) <= {1, 2}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_replay_with_the_platform_probe_agrees(scenario: str, s3: Any, bucket: str, clock: FakeClock) -> None:
    rec = replay.load(scenario, REAL_RUN)
    run = Run(scenario, s3, bucket, clock, probe=replay.ManifestProbe(rec, clock))
    run.play(0.2)

    expected = expected_trace(run.wf, run.returns, run.expect)
    assert not diff_statuses(expected, run.obs.statuses())
    if "fail" in scenario:
        # boom's log has an ERROR, and the platform saw exit code 1: the log's message wins (it came first).
        assert run.obs.state("boom").message.startswith("ERROR: intentional failure from wf_boom")
        assert run.obs.stats.platform_events == 2 * len(rec.activations)
