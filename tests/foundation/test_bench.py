"""`python -m bench` finds benchmark modules by themselves (a `main()`), without a list to keep."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .samples import REPO


def test_discover_finds_modules_with_main(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "fakebench"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "alpha.py").write_text("def main():\n    print('alpha ran')\n")
    (package / "helpers.py").write_text("VALUE = 1\n")
    (package / "_private.py").write_text("def main():\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(REPO))
    import importlib

    runner = importlib.import_module("bench.__main__")
    fake = importlib.import_module("fakebench")
    assert runner.discover(fake) == ["alpha"]
    assert "parse_speed" in runner.discover()


def test_unknown_benchmark_name_lists_the_available_ones() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench", "no_such_bench"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "unknown benchmark(s): no_such_bench" in result.stderr
    assert "parse_speed" in result.stderr
