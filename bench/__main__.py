"""Run every benchmark module in this package that defines `main()`, in name order.

`python -m bench` runs them all; `python -m bench parse_speed` runs only the named ones.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from types import ModuleType

import bench


def discover(package: ModuleType = bench) -> list[str]:
    """Names of the modules of `package` (bench/) that define `main()`; `_private` ones are skipped."""
    names = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.ispkg:
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        if callable(getattr(module, "main", None)):
            names.append(info.name)
    return names


def run(argv: list[str]) -> int:
    """Run the named benchmarks (all when none is named); 2 for an unknown name."""
    available = discover()
    unknown = [n for n in argv if n not in available]
    if unknown:
        print(
            f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available)}", file=sys.stderr
        )
        return 2
    for name in argv or available:
        print(f"== bench.{name}", flush=True)
        start = time.perf_counter()
        importlib.import_module(f"bench.{name}").main()
        print(f"   ({time.perf_counter() - start:.1f} s)\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
