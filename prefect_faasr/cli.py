"""The `prefect-faasr` command: a thin layer over the library (validate, graph, ...).

Commands print for people and exit 0 (fine) or 2 (the input is wrong). User errors
(`FaaSrUserError`) never show a traceback: `main()` turns them into one message on stderr.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from prefect_faasr.errors import FaaSrUserError, Problem, WorkflowValidationError
from prefect_faasr.render import render
from prefect_faasr.workflow import FaaSrWorkflow

app = typer.Typer(
    name="prefect-faasr",
    help="Test FaaSr serverless workflows with Prefect.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals could hold credentials
)

USER_ERROR = 2


class GraphFormat(StrEnum):
    text = "text"
    mermaid = "mermaid"


def _workflow_files(paths: list[Path]) -> list[Path]:
    """The files to check: each path as given, a directory as its *.json files."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted(p.glob("*.json"))
            if not found:
                raise FaaSrUserError(f"{p}: no *.json files in this directory")
            out.extend(found)
        else:
            out.append(p)
    return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _echo_problems(problems: list[Problem]) -> None:
    for p in problems:
        colour = "red" if p.severity == "error" else "yellow"
        typer.echo(f"  {typer.style(p.severity.ljust(7), fg=colour)} {p.path}: {p.message}")


@app.command()
def validate(
    files: Annotated[
        list[Path],
        typer.Argument(metavar="FILE", help="Workflow JSON files (a directory means its *.json files)."),
    ],
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as problems (exit 2).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only report files with problems.")] = False,
) -> None:
    """Check FaaSr workflow files the way FaaSr would, and list every problem with its JSON path.

    Exit code 0: every file is valid; 2: at least one is not.
    """
    paths = _workflow_files(files)
    invalid = 0
    for path in paths:
        try:
            wf = FaaSrWorkflow.parse(path)
        except WorkflowValidationError as exc:
            invalid += 1
            counts = _plural(len(exc.problems), "error")
            if exc.warnings:
                counts += ", " + _plural(len(exc.warnings), "warning")
            typer.echo(f"{path}: {typer.style('invalid', fg='red', bold=True)} ({counts})")
            _echo_problems([*exc.problems, *exc.warnings])
            continue
        warnings = list(wf.warnings)
        if warnings and strict:
            invalid += 1
            label = typer.style("invalid", fg="red", bold=True)
            typer.echo(f"{path}: {label} ({_plural(len(warnings), 'warning')}, --strict)")
            _echo_problems(warnings)
        elif warnings:
            typer.echo(f"{path}: {typer.style('valid', fg='green')} ({_plural(len(warnings), 'warning')})")
            _echo_problems(warnings)
        elif not quiet:
            typer.echo(f"{path}: {typer.style('valid', fg='green')}")
    typer.echo(f"{_plural(len(paths), 'file')} checked: {len(paths) - invalid} valid, {invalid} invalid")
    if invalid:
        raise typer.Exit(USER_ERROR)


@app.command()
def graph(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A workflow JSON file.")],
    fmt: Annotated[
        GraphFormat, typer.Option("--format", "-f", help="text for a terminal, mermaid for Markdown.")
    ] = GraphFormat.text,
) -> None:
    """Draw the workflow's DAG: conditional edges show [True]/[False], ranked actions name(N)."""
    typer.echo(render(FaaSrWorkflow.parse(file), fmt.value), nl=False)


def main() -> None:
    """Console entry point: user errors become one message on stderr and exit code 2.

    Typer itself (standalone mode) handles usage errors, --help, Ctrl-C and exit codes.
    """
    try:
        app()
    except FaaSrUserError as exc:
        typer.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
