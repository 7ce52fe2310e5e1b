"""The checks of a test run: statuses against the expected trace, S3 objects, log lines.

Plain functions (no Prefect): each returns `CheckResult`s that say what was expected, what was
found and where, so a failure reads without opening the logs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from prefect_faasr.logs import LogRecord
from prefect_faasr.names import split_instance
from prefect_faasr.observe import InstanceState
from prefect_faasr.report import CheckResult
from prefect_faasr.spec import LogCheck, ObjectCheck
from prefect_faasr.status import FunctionStatus
from prefect_faasr.workflow import FaaSrWorkflow, InvocationKeys

MAX_SHOWN = 120


def check_trace(
    expected: Mapping[str, FunctionStatus], observed: Mapping[str, InstanceState]
) -> list[CheckResult]:
    """One check per function instance: its final status against the expected trace."""
    out = []
    for instance, want in expected.items():
        state = observed.get(instance)
        got = state.status if state is not None else None
        passed = got == want
        why = f" ({state.message})" if state is not None and state.message and not passed else ""
        out.append(
            CheckResult(
                kind="status",
                subject=instance,
                passed=passed,
                expected=want.value,
                observed=got.value if got else "unknown",
                message=""
                if passed
                else f"expected {want.value}, found {got.value if got else 'unknown'}{why}",
            )
        )
    return out


def check_objects(
    checks: Iterable[ObjectCheck],
    keys: InvocationKeys,
    workflow: FaaSrWorkflow,
    client_for: Callable[[str], Any],
    bucket_for: Callable[[str], str],
) -> list[CheckResult]:
    """Object assertions: `exists` (true/false), `equals`, `contains`, on the DataStore they name."""
    out = []
    for check in checks:
        store = check.store or workflow.default_store
        key = check.render_key(keys)
        bucket = bucket_for(store)
        where = f"s3://{bucket}/{key}"
        body, problem = _read(client_for(store), bucket, key)
        if problem is not None:
            out.append(CheckResult(kind="object", subject=key, passed=False, message=f"{where}: {problem}"))
            continue
        if check.exists is not None:
            found = body is not None
            out.append(
                CheckResult(
                    kind="object",
                    subject=key,
                    passed=found == check.exists,
                    expected="exists" if check.exists else "absent",
                    observed="exists" if found else "absent",
                    message=""
                    if found == check.exists
                    else (f"{where} exists but should not" if found else f"{where} does not exist"),
                )
            )
            continue
        want = check.equals if check.equals is not None else check.contains
        assert want is not None
        if body is None:
            out.append(
                CheckResult(
                    kind="object",
                    subject=key,
                    passed=False,
                    expected=_show(want),
                    observed="absent",
                    message=f"{where} does not exist",
                )
            )
            continue
        text = body.decode("utf-8", errors="replace")
        if check.equals is not None:
            passed = text == check.equals or text.rstrip("\n") == check.equals.rstrip("\n")
            what = "equal"
        else:
            passed = want in text
            what = "contain"
        out.append(
            CheckResult(
                kind="object",
                subject=key,
                passed=passed,
                expected=_show(want),
                observed=_show(text),
                message="" if passed else f"{where} should {what} {_show(want)!r}, found {_show(text)!r}",
            )
        )
    return out


def check_logs(
    checks: Iterable[LogCheck],
    workflow: FaaSrWorkflow,
    records_of: Callable[[str], list[LogRecord]],
) -> list[CheckResult]:
    """Log assertions: a line (or part of one) each instance's log contains, or must not contain."""
    out = []
    for check in checks:
        for instance in _instances(workflow, check.function):
            lines = [r for r in records_of(instance) if check.contains in r.text]
            found = bool(lines)
            passed = found != check.absent
            if check.absent:
                message = "" if passed else f"log of {instance} contains {check.contains!r}: {lines[0]}"
            else:
                message = "" if passed else f"log of {instance} does not contain {check.contains!r}"
            out.append(
                CheckResult(
                    kind="log",
                    subject=instance,
                    passed=passed,
                    expected=("no line with " if check.absent else "a line with ") + repr(check.contains),
                    observed=_show(str(lines[0])) if lines else "no such line",
                    message=message,
                )
            )
    return out


def verdict(checks: list[CheckResult]) -> tuple[bool, str]:
    """The run's verdict and a one-line reason, causes first: what failed or timed out, then the
    other differences, then how many instances were skipped because of them."""
    failed = [c for c in checks if not c.passed]
    if not failed:
        n_status = sum(c.kind == "status" for c in checks)
        return True, f"all {len(checks)} checks held ({n_status} function instances as expected)"
    skipped = [c for c in failed if c.kind == "status" and c.observed == FunctionStatus.SKIPPED.value]
    causes = [c for c in failed if c not in skipped]
    causes.sort(key=lambda c: c.observed not in (FunctionStatus.FAILED.value, FunctionStatus.TIMEOUT.value))
    parts = [f"{c.subject}: {c.message or c.expected + ' vs ' + c.observed}" for c in causes[:3]]
    if len(causes) > 3:
        parts.append(f"{len(causes) - 3} more")
    if skipped:
        names = ", ".join(c.subject for c in skipped[:4]) + (", ..." if len(skipped) > 4 else "")
        parts.append(f"{len(skipped)} skipped ({names})")
    line = f"{len(failed)} of {len(checks)} checks failed: " + "; ".join(parts)
    return False, " ".join(line.split())


def _instances(workflow: FaaSrWorkflow, name: str) -> list[str]:
    action, rank = split_instance(name)
    return [name] if rank is not None else workflow.instances(action)


def _read(client: Any, bucket: str, key: str) -> tuple[bytes | None, str | None]:
    """The object's bytes (None when absent) or a problem reading it."""
    try:
        return client.get_object(Bucket=bucket, Key=key)["Body"].read(), None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404", "NotFound"):
            return None, None
        return None, f"cannot read it ({code or exc})"
    except BotoCoreError as exc:
        return None, f"cannot read it ({exc})"


def _show(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."
