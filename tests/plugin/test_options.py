"""Options, markers and path handling of the plugin (in-process pytester: no workflow runs here)."""

from __future__ import annotations

import pytest

from .conftest import plugin_args

pytest_plugins = ["pytester"]

USES_FIXTURE = """
import pytest

@pytest.fixture(scope="module")
def run(faasr_workflow):
    with faasr_workflow("nope.yaml") as run:
        yield run

def test_through_a_module_fixture(run):
    pass

def test_directly(faasr_workflow):
    pass

def test_plain():
    pass
"""


def test_help_lists_the_options(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(*plugin_args(), "--help")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "prefect-faasr: FaaSr workflow tests:",
            "*--faasr-local*Run FaaSr workflows on the embedded local runtime*",
            "*--faasr-env=BLOCK*Run FaaSr workflows on real backends with this*",
            "*--faasr-report-dir=DIR*",
        ]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--faasr-local", "--faasr-env", "nightly"],
            "*--faasr-local and --faasr-env nightly exclude each other*",
        ),
        (["--faasr-env", " "], "*--faasr-env needs the name of a FaaSrEnvironment block*"),
    ],
)
def test_contradicting_options_are_usage_errors(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest(*plugin_args(), *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_tests_using_the_fixture_get_the_faasr_marker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_marked=USES_FIXTURE)
    result = pytester.runpytest(*plugin_args(), "--strict-markers", "--collect-only", "-q", "-m", "not faasr")
    result.stdout.fnmatch_lines(["test_marked.py::test_plain", "*1/3 tests collected (2 deselected)*"])
    markers = pytester.runpytest(*plugin_args(), "--markers")
    markers.stdout.fnmatch_lines(["@pytest.mark.faasr: runs a FaaSr workflow through prefect-faasr*"])


def test_a_relative_spec_is_found_next_to_the_calling_file(pytester: pytest.Pytester) -> None:
    sub = pytester.mkdir("sub")
    (sub / "test_rel.py").write_text(USES_FIXTURE)
    result = pytester.runpytest(*plugin_args(), "sub/test_rel.py::test_through_a_module_fixture")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"faasr_workflow(nope.yaml): {sub / 'nope.yaml'}: invalid test spec*"])
    result.stdout.fnmatch_lines(["*(file): file not found", "nope: did not start: *invalid test spec*"])
