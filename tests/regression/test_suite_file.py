"""Suite files: loading, every problem with its YAML path and line, planning and `only`."""

from __future__ import annotations

from pathlib import Path

import pytest

from prefect_faasr.errors import FaaSrUserError
from prefect_faasr.suite import Suite, SuiteValidationError, suite_name
from prefect_faasr.suite_report import one_line

from .conftest import ROOT, spec, write_yaml


def test_entries_resolve_against_the_suite_file_and_merge_their_timeouts(suite_dir: Path) -> None:
    suite_file = write_yaml(
        suite_dir / "nested" / "merge.yaml",
        {
            "timeouts": {"run": 50, "poll": 2},
            "specs": ["../specs/serial.yaml", {"path": "../specs/left-raises.yaml", "timeouts": {"run": 9}}],
        },
    )
    suite = Suite.load(suite_file)
    assert suite.name == "merge"  # no `name:`: the file's stem
    first, second = suite.plan()
    assert first.path == str(suite_dir / "specs" / "serial.yaml")
    assert (first.name, first.workflow, first.problem) == ("serial", "LocalTestWF", None)
    assert first.timeouts == {"run": 50, "poll": 2}
    assert second.timeouts == {"run": 9, "poll": 2}


def test_only_selects_by_name_or_tag_in_suite_order(suite_dir: Path) -> None:
    suite = Suite.load(suite_dir / "suite.yaml")
    assert [p.name for p in suite.plan(["broken", "faults"])] == ["left-raises", "boom-expected", "broken"]
    assert [p.name for p in suite.plan(["serial"])] == ["serial"]
    with pytest.raises(FaaSrUserError, match=r"`only` names 'nope', which is no spec name or tag") as info:
        suite.plan(["nope", "serial"])
    assert "boom-expected, broken, faults, left-raises, serial" in str(info.value)


def test_a_spec_that_does_not_load_is_planned_with_its_problem(suite_dir: Path) -> None:
    broken = Suite.load(suite_dir / "suite.yaml").plan(["broken"])[0]
    assert broken.name == "broken" and broken.workflow is None
    assert broken.problem is not None and "unknown key 'retries'" in broken.problem


def test_every_problem_of_a_suite_file_is_named_with_its_path_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: bad\n"
        "specs:\n"
        "  - a.yaml\n"
        "  - path: b.yaml\n"
        "    tiemouts: {run: 3}\n"
        "  - path: c.yaml\n"
        "    timeouts: {run: -1}\n"
        "  - {cleanup: yes please}\n"
    )
    with pytest.raises(SuiteValidationError) as info:
        Suite.load(path)
    text = str(info.value)
    assert text.startswith(f"{path}: invalid regression suite, 4 problems")
    assert "specs[1].tiemouts: unknown key 'tiemouts'; allowed: path, name, tags, timeouts" in text
    assert "(line 5)" in text
    assert "specs[2].timeouts.run: Input should be greater than 0, not -1 (line 7)" in text
    assert "specs[3].path: required key is missing (line 8)" in text
    assert "specs[3].cleanup: Input should be a valid boolean, not 'yes please' (line 8)" in text


def test_missing_spec_files_are_listed_before_anything_runs(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "s.yaml", {"specs": ["here.yaml", "gone/there.yaml"]})
    (tmp_path / "here.yaml").write_text("name: x\n")
    with pytest.raises(SuiteValidationError) as info:
        Suite.load(path)
    assert info.value.problems[0].path == "specs[1].path"
    assert f"spec file not found: {tmp_path / 'gone' / 'there.yaml'} (line 3)" in str(info.value)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "(root): a suite must be a mapping, this is empty"),
        ("- a.yaml\n", "(root): a suite must be a mapping, this is a list"),
        ("specs: []\n", "specs: a suite needs at least one spec"),
        ("name: x\n", "specs: required key is missing"),
        ("specs: [a.yaml\n", "(yaml): YAML syntax error"),
        ("name: a\nname: b\nspecs: [a.yaml]\n", "key 'name' appears twice"),
    ],
)
def test_malformed_suite_files(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    with pytest.raises(SuiteValidationError, match="invalid regression suite") as info:
        Suite.load(path)
    assert problem in str(info.value)


def test_two_entries_of_one_name_need_a_name_of_their_own(suite_dir: Path) -> None:
    path = write_yaml(suite_dir / "twice.yaml", {"specs": ["specs/serial.yaml", "specs/serial.yaml"]})
    with pytest.raises(SuiteValidationError, match=r"specs\[1\]: name 'serial' is also specs\[0\]"):
        Suite.load(path).plan()
    renamed = write_yaml(
        suite_dir / "renamed.yaml",
        {"specs": ["specs/serial.yaml", {"path": "specs/serial.yaml", "name": "again"}]},
    )
    assert [p.name for p in Suite.load(renamed).plan()] == ["serial", "again"]


def test_adhoc_specs_and_missing_files(tmp_path: Path) -> None:
    good = write_yaml(tmp_path / "good.yaml", spec("good", "LocalTestWF", returns={"prep": True}))
    assert [p.name for p in Suite.adhoc([str(good)]).plan()] == ["good"]
    with pytest.raises(SuiteValidationError, match=r"spec\[1\]: spec file not found: nope.yaml"):
        Suite.adhoc([str(good), "nope.yaml"])


def test_the_shipped_nightly_suite_loads_and_every_spec_in_it_is_valid() -> None:
    suite = Suite.load(ROOT / "examples" / "suite.yaml")
    planned = suite.plan()
    assert suite.name == suite_name(ROOT / "examples" / "suite.yaml") == "nightly"
    assert [p.problem for p in planned] == [None] * len(planned)
    assert len({p.name for p in planned}) == len(planned) >= 2
    assert any(p.dry_run for p in planned)


def test_one_line_joins_lines_and_cuts_long_text() -> None:
    assert one_line("x.yaml: invalid, 2 problems\n  - a: bad\n  - b: worse\n") == (
        "x.yaml: invalid, 2 problems; a: bad; b: worse"
    )
    cut = one_line("word " * 200, limit=50)
    assert len(cut) == 50 and cut.endswith("…")
