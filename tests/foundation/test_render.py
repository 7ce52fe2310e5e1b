"""Text and Mermaid drawings of a workflow show the entry, branches, ranks and fan-ins."""

from __future__ import annotations

import re

import pytest

from prefect_faasr.render import action_label, fan_in_sources, render, render_mermaid, render_text
from prefect_faasr.workflow import FaaSrWorkflow

from .samples import REAL_WORKFLOWS, with_graph


@pytest.fixture(scope="module")
def wf() -> FaaSrWorkflow:
    return FaaSrWorkflow.parse(REAL_WORKFLOWS / "LocalTestWF.json")


def test_labels_and_fan_in_sources(wf: FaaSrWorkflow) -> None:
    assert action_label(wf, "worker") == "worker(3)"
    assert action_label(wf, "join") == "join"
    assert fan_in_sources(wf, "final") == ["worker(1..3)"]
    assert fan_in_sources(wf, "join") == ["left", "right"]


def test_text(wf: FaaSrWorkflow) -> None:
    text = render_text(wf)
    lines = text.splitlines()
    assert lines[0] == "LocalTestWF: 8 actions, 10 function instances, entry start"
    blocks = {line.split()[0]: line for line in lines[2:] if not line.startswith(" ")}
    assert list(blocks) == ["start", "prep", "left", "right", "never", "join", "worker(3)", "final"]
    assert blocks["start"].endswith("entry")
    assert blocks["prep"].endswith("conditional")
    assert blocks["join"].endswith("fan-in: left, right")
    assert blocks["final"].endswith("fan-in: worker(1..3)")
    assert "wf_worker  Python  OW (OpenWhisk)" in blocks["worker(3)"]
    prep_edges = lines[lines.index(blocks["prep"]) + 1 : lines.index(blocks["left"])]
    assert prep_edges == ["  -> left [True]", "  -> right [True]", "  -> never [False]"]
    assert "  -> worker(3)" in lines
    assert sum(1 for line in lines if line.startswith("  -> ")) == len(wf.edges)


def test_mermaid(wf: FaaSrWorkflow) -> None:
    text = render_mermaid(wf)
    lines = text.splitlines()
    assert lines[:4] == ["---", "title: LocalTestWF", "---", "flowchart TD"]
    nodes = dict(re.findall(r"^    (n\d+)(\S.*)$", text, flags=re.M))
    assert len(nodes) == len(wf.actions)
    by_label = {re.search(r'"(.*)"', shape)[1]: (n, shape) for n, shape in nodes.items()}
    assert by_label["start"][1] == '(["start"])'  # entry: stadium
    assert by_label["prep"][1] == '{"prep"}'  # conditional: rhombus
    assert by_label["worker(3)"][1] == '[["worker(3)"]]'  # ranked: subroutine box
    assert by_label["join"][1] == '["join"]'
    edges = re.findall(r"^    (n\d+) (-->(?:\|(True|False)\|)?) (n\d+)$", text, flags=re.M)
    assert len(edges) == len(wf.edges)
    ids = {label: n for label, (n, _) in by_label.items()}
    assert (ids["prep"], "-->|False|", "False", ids["never"]) in edges
    assert (ids["join"], "-->", "", ids["worker(3)"]) in edges


def test_render_dispatch() -> None:
    wf = FaaSrWorkflow.parse(with_graph({"s": ["a"], "a": []}))
    assert render(wf) == render_text(wf)
    assert render(wf, "mermaid") == render_mermaid(wf)
    assert render_text(wf).splitlines()[0] == "unit-wf: 2 actions, 2 function instances, entry s"
    with pytest.raises(ValueError, match="unknown graph format 'svg'"):
        render(wf, "svg")
