"""Per-activation overhead of the local FaaSr runtime.

A chain of N no-op Python actions (`a1 -> a2 -> ... -> aN`) runs on the local runtime, once per
process start method. Printed per method: wall time of the chain divided by N (what one hop of a
workflow costs end to end), the median activation duration the compute server reports (process
start to exit), and the ratio to the real engine's ~1.4 s per action (shared/faasr/real-run/README.md).

Run: `python -m bench.activation_overhead [N]` (or through `python -m bench`).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._workflows import action, bench_workflow
from prefect_faasr.local import LocalFaaSr

REAL_ENGINE_SECONDS_PER_ACTION = 1.4
NOOP = """def noop():
    return None
"""


def chain_workflow(n: int) -> dict[str, Any]:
    actions = {f"a{i}": action("noop", [f"a{i + 1}"] if i < n else []) for i in range(1, n + 1)}
    return bench_workflow(f"BenchChain{n}", "a1", actions, bucket="bench")


def measure(method: str, n: int, functions: Path, repeats: int = 2) -> dict[str, float]:
    with LocalFaaSr(start_method=method) as env:  # type: ignore[arg-type]
        wf = env.deploy(chain_workflow(n), functions)
        # One warm-up run: the forkserver and the S3 server pay their first-use costs here.
        env.client.wait_idle(env.client.start(wf).invocation_id)
        walls, durations = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            run = env.client.start(wf)
            acts = env.client.wait_idle(run.invocation_id, timeout=60 + 10 * n)
            walls.append(time.perf_counter() - t0)
            failed = [a.instance for a in acts if a.exit_code != 0]
            if failed or len(acts) != n:
                raise RuntimeError(
                    f"benchmark chain did not complete: {len(acts)} activations, failed {failed}"
                )
            durations += [(a.end - a.start).total_seconds() for a in acts if a.start and a.end]
    per_action = min(walls) / n
    return {
        "per_action_s": per_action,
        "median_activation_s": statistics.median(durations),
        "ratio_to_real": per_action / REAL_ENGINE_SECONDS_PER_ACTION,
    }


def main(n: int = 10) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        functions = Path(tmp) / "noop.py"
        functions.write_text(NOOP)
        print(f"activation overhead: chain of {n} no-op Python actions (real engine: ~1.4 s per action)")
        print(f"{'start method':<14}{'per action':>12}{'median activation':>20}{'vs real engine':>16}")
        for method in ("forkserver", "spawn"):
            r = measure(method, n, functions)
            print(
                f"{method:<14}{r['per_action_s']:>11.3f}s{r['median_activation_s']:>19.3f}s"
                f"{r['ratio_to_real']:>15.1%}"
            )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
