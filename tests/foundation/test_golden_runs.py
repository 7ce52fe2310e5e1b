"""The log parser against logs the real FaaSr 2.1.0 engine wrote (shared/faasr/real-run).

Expectations come from the recorded files, not from this test: each activation's trigger body
(activations/*/params.json) says which instance was started, manifest.json says when it arrived and
which activation was running then (in serial mode that one sent it), its exit code, and stdout.txt
holds the ERROR lines the engine printed.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from prefect_faasr.logs import errors, parse_log, triggered
from prefect_faasr.names import instance_name
from prefect_faasr.workflow import FaaSrWorkflow

from .samples import REAL_RUN, REAL_WORKFLOWS


@dataclass(frozen=True)
class Activation:
    seq: int
    instance: str  # the function instance its trigger body asked for
    received: float
    started: float
    ended: float
    exit_code: int
    stdout: str


def activations(run: Path) -> list[Activation]:
    manifest = {a["seq"]: a for a in json.loads((run / "manifest.json").read_text())["activations"]}
    out = []
    for folder in sorted((run / "activations").iterdir()):
        body = json.loads((folder / "params.json").read_text())["body"]["OVERWRITTEN"]
        m = manifest[int(folder.name.split("-", 1)[0])]
        out.append(
            Activation(
                seq=m["seq"],
                instance=instance_name(body["FunctionInvoke"], body.get("FunctionRank")),
                received=m["received_at"],
                started=m["started_at"],
                ended=m["ended_at"],
                exit_code=m["exit_code"],
                stdout=(folder / "stdout.txt").read_text(),
            )
        )
    return out


def logs(run: Path) -> dict[str, str]:
    """Final S3 log per function instance (`worker(2).txt` -> `worker(2)`)."""
    return {p.stem: p.read_text() for p in (run / "s3").glob("*/FaaSrLog/*/*/*/*.txt")}


def stdout_errors(stdout: str) -> Counter[tuple[str, str]]:
    """(file, message) of the ERROR/CRITICAL lines the engine printed (`[LEVEL] [file] msg` on stdout)."""
    found = re.findall(r"^\[(?:ERROR|CRITICAL)\] \[([^\]]*)\] (.*)$", stdout, flags=re.M)
    return Counter((f, m) for f, m in found)


SERIAL = ["01-serial-container", "03-fail-serial-container"]
ALL_RUNS = [*SERIAL, "02-concurrent-container", "04-fail-concurrent-container"]


@pytest.mark.parametrize("name", SERIAL)
def test_each_log_names_the_triggers_its_action_sent(name: str) -> None:
    run = REAL_RUN / name
    acts = activations(run)
    expected: dict[str, Counter[str]] = {}
    for a in acts:
        sent = Counter(b.instance.split("(")[0] for b in acts if a.started <= b.received <= a.ended)
        expected.setdefault(a.instance, Counter()).update(sent)
    found = {inst: triggered(parse_log(text)) for inst, text in logs(run).items()}
    assert found == {inst: expected[inst] for inst in found}
    assert sum(found.values(), Counter()) == Counter(a.instance.split("(")[0] for a in acts[1:])


@pytest.mark.parametrize("name", ALL_RUNS)
def test_all_triggers_of_a_run_are_found(name: str) -> None:
    """Every activation but the entry was started by a trigger line in some predecessor's log."""
    run = REAL_RUN / name
    acts = activations(run)
    entry = min(acts, key=lambda a: a.received)
    from_logs = sum((triggered(parse_log(t)) for t in logs(run).values()), Counter())
    assert from_logs == Counter(a.instance.split("(")[0] for a in acts if a is not entry)


@pytest.mark.parametrize("name", ALL_RUNS)
def test_errors_are_exactly_the_failed_activations(name: str) -> None:
    run = REAL_RUN / name
    acts = activations(run)
    for instance, text in logs(run).items():
        failed = [a for a in acts if a.instance == instance and a.exit_code != 0]
        found = errors(parse_log(text))
        assert bool(found) == bool(failed), instance
        if failed:
            # the S3 log holds the same ERROR records the failed activation printed
            assert Counter((r.file, r.message) for r in found) == stdout_errors(failed[0].stdout)


def test_the_failing_run_is_the_one_expected_from_its_workflow() -> None:
    """03: boom failed, ok ran, fjoin still ran (boom wrote .done), and boom triggered nothing."""
    wf = FaaSrWorkflow.parse(REAL_WORKFLOWS / "LocalFailWF.json")
    run = REAL_RUN / "03-fail-serial-container"
    failed = {a.instance for a in activations(run) if a.exit_code != 0}
    assert failed and failed <= set(wf.actions)
    texts = logs(run)
    assert set(texts) == set(wf.instances())
    for instance in failed:
        assert triggered(parse_log(texts[instance])) == Counter()


# ---- engine-scenarios: GitHub wording and the failure rows of contract §5.6 -----------------------

SCENARIOS = REAL_RUN / "engine-scenarios"


def scenario_logs(scenario: Path) -> dict[str, str]:
    parts = re.split(r"^=== (.*)$", (scenario / "s3dump.txt").read_text(), flags=re.M)
    objects = dict(zip(parts[1::2], parts[2::2], strict=True))
    return {
        k.rsplit("/", 1)[1][:-4]: v
        for k, v in objects.items()
        if k.startswith("FaaSrLog/") and k.endswith(".txt")
    }


@pytest.mark.parametrize("name", ["happy", "happylifo"])
def test_github_trigger_lines_match_the_dispatches_sent(name: str) -> None:
    """Each recorded GitHub workflow_dispatch (triggers/*.json) but the entry's has its log line."""
    scenario = SCENARIOS / name
    wf_name = json.loads((scenario / "wf.json").read_text())["WorkflowName"]
    dispatched = Counter()
    for path in (scenario / "triggers").glob("*.json"):
        request = json.loads(path.read_text())
        overwritten = json.loads(request["json"]["inputs"]["OVERWRITTEN"])
        if "InvocationID" in overwritten:  # the entry's dispatch (from invoke_workflow) has none yet
            workflow_file = request["url"].split("/workflows/")[1].split("/")[0]
            dispatched[workflow_file.removeprefix(f"{wf_name}-").removesuffix(".yml")] += 1
    from_logs = sum((triggered(parse_log(t)) for t in scenario_logs(scenario).values()), Counter())
    assert dispatched and from_logs == dispatched


@pytest.mark.parametrize("name", sorted(p.name for p in SCENARIOS.iterdir() if p.is_dir()))
def test_error_records_only_in_logs_of_activations_that_failed(name: str) -> None:
    scenario = SCENARIOS / name
    results = json.loads((scenario / "results.json").read_text())
    exit_codes: dict[str, list[int]] = {}
    for activation, (code, _) in results.items():
        action, _, rank = activation.split("-", 1)[1].partition(".")
        exit_codes.setdefault(instance_name(action, int(rank) if rank else None), []).append(code)
    for instance, text in scenario_logs(scenario).items():
        if errors(parse_log(text)):
            assert any(code != 0 for code in exit_codes[instance]), instance
