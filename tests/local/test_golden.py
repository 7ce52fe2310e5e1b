"""The local runtime against golden runs of the real FaaSr 2.1.0 engine (shared/faasr/real-run).

The workflows and their functions run unchanged; expectations are read from the golden S3 dumps at
test time: the same keys (modulo InvocationID/Timestamp), the same `.done` set, the same trigger
lines per log, the same ERROR evidence, the same user lines and user data, the same activations.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from local_helpers import REAL_RUN, RUN_WORKFLOWS, bucket_of, load_json, objects, run_workflow

from prefect_faasr.local import LocalFaaSr
from prefect_faasr.logs import errors, function_result, parse_log, triggered

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CASES = [
    ("LocalTestWF", "01-serial-container", "data"),
    ("LocalFailWF", "03-fail-serial-container", "faildata"),
]


def golden_objects(folder: str) -> tuple[dict[str, str], str, str]:
    """The golden run's final objects, and its InvocationTimestamp and InvocationID."""
    root = REAL_RUN / folder / "s3" / "faasr-local"
    out = {str(p.relative_to(root)): p.read_text() for p in root.rglob("*") if p.is_file()}
    log_key = next(k for k in out if k.startswith("FaaSrLog/") and k.endswith(".txt"))
    _, _, ts, iid, _ = log_key.split("/", 4)
    return out, ts, iid


def normalize(objs: dict[str, str], ts: str, iid: str) -> dict[str, str]:
    return {k.replace(f"{ts}/{iid}", "{TS}/{ID}"): v.replace(iid, "{ID}") for k, v in objs.items()}


def summary(objs: dict[str, str]) -> dict[str, dict]:
    """What must match per log: trigger counts, ERROR messages, user lines, function result."""
    out = {}
    for key, text in objs.items():
        if key.startswith("FaaSrLog/") and key.endswith(".txt"):
            records = parse_log(text)
            out[key] = {
                "triggered": Counter(triggered(records)),
                "errors": [r.message for r in errors(records)],
                "user": [r.message for r in records if r.is_user],
                "result": function_result(records),
            }
    return out


@pytest.fixture(scope="module", params=CASES, ids=[c[0] for c in CASES])
def case(request: pytest.FixtureRequest, runtime: LocalFaaSr) -> dict:
    name, folder, data = request.param
    wf, started, acts = run_workflow(
        runtime, RUN_WORKFLOWS / "workflows" / f"{name}.json", RUN_WORKFLOWS / "functions"
    )
    bucket = bucket_of(wf)
    local = objects(runtime, bucket, started.keys.folder + "/") | objects(runtime, bucket, data + "/")
    golden, ts, iid = golden_objects(folder)
    return {
        "local": normalize(local, started.timestamp, started.invocation_id),
        "golden": normalize(golden, ts, iid),
        "acts": acts,
        "manifest": load_json(REAL_RUN / folder / "manifest.json"),
    }


def test_same_keys(case: dict) -> None:
    assert sorted(case["local"]) == sorted(case["golden"])


def test_same_done_set(case: dict) -> None:
    def done(objs: dict[str, str]) -> set[str]:
        return {k for k in objs if "/function_completions/" in k}

    assert done(case["local"]) == done(case["golden"])
    assert all(case["local"][k] == "True" for k in done(case["local"]))


def test_same_trigger_lines_errors_user_lines_and_results(case: dict) -> None:
    local, golden = summary(case["local"]), summary(case["golden"])
    assert local.keys() == golden.keys()
    for key in golden:
        assert local[key] == golden[key], key


def test_same_user_data(case: dict) -> None:
    def data(objs: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in objs.items() if not k.startswith("FaaSrLog/")}

    assert data(case["local"]) == data(case["golden"])


def test_same_activations(case: dict) -> None:
    golden = Counter(
        (a["function_invoke"], a["rank"], a["exit_code"]) for a in case["manifest"]["activations"]
    )
    local = Counter((a.action, a.rank, a.exit_code) for a in case["acts"])
    assert local == golden


def test_fan_in_ran_once(case: dict) -> None:
    ran = Counter(a.instance for a in case["acts"] if a.outcome == "completed")
    aborted = [a for a in case["acts"] if a.outcome and a.outcome.startswith("fan-in")]
    assert all(n == 1 for n in ran.values()), ran
    assert all(a.exit_code == 0 for a in aborted)


def test_log_lines_are_engine_records_or_user_lines(case: dict) -> None:
    engine_files = {"executor.py", "scheduler.py", "faasr_server.py", "log.py", "faasr_entry.py"}
    engine_files |= {"faasr_start_invoke_helper.py"}
    for key, text in case["local"].items():
        if not key.endswith(".txt") or not key.startswith("FaaSrLog/"):
            continue
        for record in parse_log(text):
            assert record.is_user or record.file in engine_files, (key, str(record))
            if not record.is_user:
                assert record.time is not None and record.time >= 0
                # Python float repr of a value rounded to 3 digits
                assert repr(round(record.time, 3)) in text


def test_golden_data_is_present() -> None:
    for _, folder, _ in CASES:
        assert (REAL_RUN / folder / "manifest.json").is_file()
    assert Path(RUN_WORKFLOWS / "functions" / "wf_start.py").is_file()
