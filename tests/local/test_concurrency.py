"""Ten concurrent invocations of examples/integration finish correctly and stay isolated."""

from __future__ import annotations

from collections import Counter

import pytest
from local_helpers import EXAMPLE, by_instance, objects

from prefect_faasr.local import LocalFaaSr
from prefect_faasr.logs import errors, parse_log, triggered

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.stress]

RUNS = 10
DATA = {
    "input2.txt": "Test input2",
    "input3.txt": "Test input3",
    "output1-py.txt": "Test input1 + Test input2",
    "run_true_output.txt": "test-run-true ran",
    "run_false_output.txt": "test-run-false ran",
    "summary.txt": "5 ranks\n",
    **{f"rank_files/rank-{r}.txt": f"rank {r} of 5" for r in range(1, 6)},
}
LOG_NAMES = ["create-input", "test-py-api", "sync1", "test-run-true", "test-run-false", "sync2"]
LOG_NAMES += [f"test-rank({r})" for r in range(1, 6)]


def test_ten_concurrent_integration_runs(runtime: LocalFaaSr) -> None:
    wf = runtime.deploy(EXAMPLE / "workflow.json", EXAMPLE / "functions")
    runs = [runtime.client.start(wf) for _ in range(RUNS)]
    results = {run.invocation_id: runtime.client.wait_idle(run.invocation_id, timeout=600) for run in runs}
    everything = objects(runtime, "faasr-integration-tests")

    expected_keys: set[str] = set()
    for run in runs:
        acts = results[run.invocation_id]
        assert {a.invocation_id for a in acts} == {run.invocation_id}
        assert all(a.exit_code == 0 for a in acts), [(a.instance, a.exit_code, a.stderr) for a in acts]
        counts = Counter(a.instance for a in acts)
        assert counts == Counter({**dict.fromkeys(LOG_NAMES[:5] + LOG_NAMES[6:], 1), "sync2": 5})
        assert [a.outcome for a in by_instance(acts)["sync2"]].count("completed") == 1

        data_prefix = f"integration-tests/{run.invocation_id}/"
        data = {k[len(data_prefix) :]: v for k, v in everything.items() if k.startswith(data_prefix)}
        assert data.pop("output2-py.txt").splitlines() == sorted(
            f"{data_prefix}{n}" for n in ("input2.txt", "input3.txt", "output1-py.txt")
        )
        assert data == DATA

        keys = run.keys
        logs = {name: parse_log(everything[keys.log_key(name)]) for name in LOG_NAMES}
        assert all(not errors(records) for records in logs.values())
        assert triggered(logs["sync1"]) == {"test-run-true": 1}
        assert triggered(logs["test-run-true"]) == {"test-run-false": 1}
        assert triggered(logs["test-run-false"]) == {"test-rank": 5}
        assert "Deleted input1.txt" in [r.message for r in logs["test-py-api"] if r.is_user]
        done = {keys.done_key(n) for n in LOG_NAMES}
        expected_keys |= done | {keys.log_key(n) for n in LOG_NAMES} | {keys.candidate_key("sync2")}
        expected_keys |= {data_prefix + n for n in [*DATA, "output2-py.txt"]}

    # Nothing else in the bucket: no object of one run under another's InvocationID, no leftovers.
    assert set(everything) == expected_keys
