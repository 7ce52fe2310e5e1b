"""Expected-trace oracle: the final status every function instance should reach (pure logic, no I/O).

Rules (contract §5.2-§5.6):
- the entry runs;
- an action is triggered by a predecessor instance that completed, through an unconditional edge or a
  conditional edge whose branch equals that instance's declared return;
- an action with one predecessor instance runs iff it is triggered;
- a fan-in (several predecessor instances) runs iff it is triggered AND every predecessor instance wrote
  its `.done`, because FaaSr's fan-in gate needs all of them. A completed instance writes `.done`; so does a
  failed one, because FaaSr writes `.done` before it notices that a Python function raised (contract §5.6
  row E, golden run 03-fail-serial-container: `fjoin` ran after `boom` failed). Timed-out, skipped and
  not-invoked instances never write it, so a join across both branches of one conditional never runs;
- an instance that does not run is `skipped` when a predecessor instance failed, timed out or was skipped,
  and `not_invoked` otherwise (a branch not taken, or a join behind one);
- a conditional action whose return has no branch in its conditional item (`{"True": [...]}` and a
  False return) fails: FaaSr triggers the items before that one, then crashes iterating the missing
  branch, after writing `.done` (contract §5.6, §8.6; the validator warns about such conditionals).

Explicit expectations (`expect`) always win for the instances they name, and what follows them is derived
from them. A failed instance is assumed to be row E of the failure matrix (it wrote `.done`, triggered
nothing); when a failure of another kind is expected, also state what follows (e.g. `fjoin: skipped`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from prefect_faasr.errors import FaaSrUserError
from prefect_faasr.graph import Edge
from prefect_faasr.names import split_instance
from prefect_faasr.status import FunctionStatus
from prefect_faasr.workflow import FaaSrWorkflow

S = FunctionStatus
_ITEM_RE = re.compile(r"\.InvokeNext\[(\d+)\]")

# Statuses a caller may expect: the final ones.
EXPECTABLE = (S.COMPLETED, S.FAILED, S.NOT_INVOKED, S.SKIPPED, S.TIMEOUT)
# Instances in these statuses have written their `.done` file (failed: row E, see the module docstring).
_WROTE_DONE = frozenset({S.COMPLETED, S.FAILED})


class UndeclaredReturnError(FaaSrUserError):
    """The oracle needs the return value of conditional actions that have none declared."""

    def __init__(self, actions: Iterable[str]) -> None:
        self.actions = sorted(set(actions))
        names = ", ".join(self.actions)
        example = ", ".join(f"{a}: true" for a in self.actions)
        super().__init__(
            f"no declared return for conditional action{'s' if len(self.actions) != 1 else ''} {names}: "
            f"the expected trace depends on it; declare it in the spec, e.g. `returns: {{{example}}}`"
        )


@dataclass(frozen=True)
class StatusDiff:
    """One instance whose observed status is not the expected one (None: absent on that side)."""

    instance: str
    expected: FunctionStatus | None
    observed: FunctionStatus | None

    def __str__(self) -> str:
        exp = self.expected.value if self.expected else "(not expected)"
        obs = self.observed.value if self.observed else "(not observed)"
        return f"{self.instance}: expected {exp}, observed {obs}"


def expand_keys(workflow: FaaSrWorkflow, mapping: Mapping[str, object], what: str) -> dict[str, object]:
    """Map `action` or `action(r)` keys to instances; an action name applies to all its instances.

    An instance key wins over its action's key. Raises ValueError naming unknown keys.
    """
    out: dict[str, object] = {}
    unknown = []
    for key, value in mapping.items():
        if key in workflow.actions:
            for inst in workflow.instances(key):
                out.setdefault(inst, value)
        else:
            unknown.append(key)
    known = set(workflow.instances())
    for key in unknown:
        if key not in known:
            raise ValueError(
                f"{what}: {key!r} is neither an action nor a function instance of {workflow.name}"
            )
        out[key] = mapping[key]
    return out


def expected_trace(
    workflow: FaaSrWorkflow,
    returns: Mapping[str, bool] | None = None,
    expect: Mapping[str, FunctionStatus | str] | None = None,
    *,
    default_return: bool | None = None,
) -> dict[str, FunctionStatus]:
    """Expected final status of every function instance, in topological order.

    `returns` declares what conditional actions return (keys: action, or instance of a ranked action).
    A conditional action that is expected to complete and has no declared return raises
    `UndeclaredReturnError` listing all of them, unless `default_return` says what to assume.
    `expect` overrides statuses (keys: action or instance; values: final statuses).
    """
    declared = expand_keys(workflow, returns or {}, "returns")
    explicit = {k: _final(v, k) for k, v in expand_keys(workflow, expect or {}, "expect").items()}
    status: dict[str, FunctionStatus] = {}
    fired: dict[str, set[str]] = {}  # instance -> actions it triggers
    undeclared: set[str] = set()

    for inst in workflow.instances():
        action, _ = split_instance(inst)
        status[inst] = explicit.get(inst) or _natural(workflow, action, status, fired)
        fired[inst] = set()
        if status[inst] is not S.COMPLETED:
            continue
        value = declared.get(inst)
        if workflow.is_conditional(action) and value is None:
            if default_return is None:
                undeclared.add(action)
                value = True  # keep going so that every undeclared action is reported at once
            else:
                value = default_return
        crash = _crashing_item(workflow, action, value) if workflow.is_conditional(action) else None
        if crash is not None and inst not in explicit:
            status[inst] = S.FAILED
        for e in workflow.successors(action):
            if crash is not None and not (e.branch is None and _item(e) < crash):
                continue
            if e.branch is None or e.branch == value:
                fired[inst].add(e.target)
    if undeclared:
        raise UndeclaredReturnError(undeclared)
    return status


def _crashing_item(workflow: FaaSrWorkflow, action: str, value: bool | None) -> int | None:
    """Index of the InvokeNext item where FaaSr crashes for this return: a conditional object with no
    list for it (the scheduler iterates None). None when every conditional has that branch."""
    items = workflow.raw["ActionList"][action].get("InvokeNext")
    for i, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, dict) and item.get(str(value)) is None:
            return i
    return None


def _item(edge: Edge) -> int:
    """The InvokeNext index an edge comes from (its JSON path says)."""
    m = _ITEM_RE.search(edge.path)
    return int(m[1]) if m else 0


def _natural(
    workflow: FaaSrWorkflow, action: str, status: Mapping[str, FunctionStatus], fired: Mapping[str, set[str]]
) -> FunctionStatus:
    preds = workflow.predecessor_instances(action)
    if not preds:
        return S.COMPLETED if action == workflow.entry else S.NOT_INVOKED
    triggered = any(action in fired[p] for p in preds)
    gate_open = len(preds) == 1 or all(status[p] in _WROTE_DONE for p in preds)
    if triggered and gate_open:
        return S.COMPLETED
    return S.SKIPPED if any(status[p].is_bad for p in preds) else S.NOT_INVOKED


def _final(value: FunctionStatus | str, key: str) -> FunctionStatus:
    try:
        status = FunctionStatus(value)
    except ValueError:
        status = None
    if status not in EXPECTABLE:
        allowed = ", ".join(s.value for s in EXPECTABLE)
        raise ValueError(f"expect: {key!r}: {value!r} is not a final status (one of {allowed})")
    return status


def diff_statuses(
    expected: Mapping[str, FunctionStatus | str], observed: Mapping[str, FunctionStatus | str]
) -> list[StatusDiff]:
    """Instances whose observed status differs from the expected one, in the expected order."""
    out = []
    for inst, exp in expected.items():
        obs = observed.get(inst)
        e, o = FunctionStatus(exp), FunctionStatus(obs) if obs is not None else None
        if e != o:
            out.append(StatusDiff(inst, e, o))
    out.extend(StatusDiff(i, None, FunctionStatus(o)) for i, o in observed.items() if i not in expected)
    return out


def format_diff(diffs: Iterable[StatusDiff]) -> str:
    """One readable block: a line per differing instance (empty when the trace matched)."""
    return "\n".join(str(d) for d in diffs)
