"""`WorkflowRun`: one FaaSr test run as a handle tests wait on and assert against.

The handle runs the real `faasr-test-run` flow (through Prefect's API, so every run is a flow run in
the Prefect UI) in a background thread, and gets the flow's `InvocationObserver` while it runs: tests
wait on single function instances as they finish instead of on the whole workflow.

Example:
    ```python
    with WorkflowRun("examples/integration/spec.yaml") as run:   # embedded local runtime
        run.wait_for("test-py-api")                              # FunctionStatus.COMPLETED
        run.assert_content_equals("integration-tests/{InvocationID}/input2.txt", "Test input2")
        run.assert_logs_contain("test-rank(3)", "test-rank: wrote")
        run.assert_expected_trace()
    run.report.passed                                            # the flow's TestRunReport
    ```
Assertion helpers raise `AssertionError` saying what was expected, what was found and where (S3 key
and bucket, function instance, log line). Function names are instances (`name` or `name(r)`); the
`assert_function_*` and `assert_logs_contain` helpers also take an action name for all its instances.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from prefect_faasr.logs import LogRecord
from prefect_faasr.names import split_instance
from prefect_faasr.observe import InstanceState
from prefect_faasr.oracle import diff_statuses, format_diff
from prefect_faasr.spec import render_key
from prefect_faasr.status import FunctionStatus
from prefect_faasr.testing.background import BackgroundTestRun, WorkflowRunError

__all__ = ["WorkflowRun", "WorkflowRunError"]

S = FunctionStatus
STEP = 0.25  # seconds between looks at the observer
SHOWN = 200  # characters of an object's content shown in a message
LOG_LINES = 8  # log lines shown in a message
FAILURES = (S.FAILED, S.TIMEOUT)


class WorkflowRun(BackgroundTestRun):
    """One test run of a spec (or workflow JSON): start it, wait on functions, assert, get the report.

    Takes the arguments of `BackgroundTestRun` (spec, environment, local_state, timeouts, cleanup,
    report_path, junit_path, report_dir, should_cancel).
    """

    def key(self, template: str) -> str:
        """An object key of this invocation: `{InvocationID}`, `{InvocationTimestamp}`, `{WorkflowName}`,
        `{FaaSrLog}` and `{InvocationFolder}` are filled in."""
        return render_key(template, self.keys)

    # ---- statuses ----------------------------------------------------------------------------------

    def status(self, function: str) -> FunctionStatus:
        """The instance's status now (without waiting)."""
        return self.observer.status(self._instance(function))

    def statuses(self) -> dict[str, FunctionStatus]:
        """Every instance's status now."""
        return self.observer.statuses()

    def wait_for(
        self, function: str, should_fail: bool = False, timeout: float | None = None
    ) -> FunctionStatus:
        """Wait until the instance is final and return its status.

        Raises AssertionError when it failed, timed out or was skipped, or did not finish (within
        `timeout` seconds, when given); with `should_fail=True`, unless it failed or timed out.
        `not_invoked` is a normal outcome (a branch not taken) and is returned.
        """
        instance = self._instance(function)
        state = self._wait(instance, timeout)
        if not state.status.is_final:
            raise AssertionError(self._unfinished(instance, state, timeout))
        if should_fail:
            if state.status not in FAILURES:
                raise AssertionError(
                    self._describe(instance, state, f"expected {instance} to fail, it {_did(state.status)}")
                )
        elif state.status.is_bad:
            raise AssertionError(self._describe(instance, state, f"{instance} {_did(state.status)}"))
        return state.status

    def assert_function_completed(self, function: str, timeout: float | None = None) -> None:
        """The instance (or every instance of the action) completed."""
        self._assert_status(function, S.COMPLETED, timeout)

    def assert_function_not_invoked(self, function: str, timeout: float | None = None) -> None:
        """The instance (or every instance of the action) was not invoked (a branch not taken)."""
        self._assert_status(function, S.NOT_INVOKED, timeout)

    def assert_function_failed(self, function: str, timeout: float | None = None) -> None:
        """The instance (or every instance of the action) failed."""
        self._assert_status(function, S.FAILED, timeout)

    def assert_function_skipped(self, function: str, timeout: float | None = None) -> None:
        """The instance (or every instance of the action) was skipped (something upstream failed)."""
        self._assert_status(function, S.SKIPPED, timeout)

    def assert_function_timed_out(self, function: str, timeout: float | None = None) -> None:
        """The instance (or every instance of the action) timed out."""
        self._assert_status(function, S.TIMEOUT, timeout)

    def assert_expected_trace(self, timeout: float | None = None) -> None:
        """Every instance's final status against the spec's expected trace, as one diff."""
        states = {i: self._wait(i, timeout) for i in self.observer.workflow.instances()}
        diff = diff_statuses(self.expected, {i: s.status for i, s in states.items()})
        if not diff:
            return
        lines = [
            f"the run differs from the expected trace of {self.name} in {len(diff)} of "
            f"{len(self.expected)} function instances ({self._where()}):",
            format_diff(diff),
        ]
        for d in diff:
            state = states.get(d.instance)
            if state is not None and state.status in FAILURES and d.expected != state.status:
                lines.append(self._describe(d.instance, state, f"{d.instance} {_did(state.status)}"))
        raise AssertionError("\n".join(lines))

    def _assert_status(self, function: str, want: FunctionStatus, timeout: float | None) -> None:
        problems = []
        for instance in self._instances(function):
            state = self._wait(instance, timeout)
            if state.status is want:
                continue
            if not state.status.is_final:
                problems.append(self._unfinished(instance, state, timeout, want))
            else:
                head = f"expected {instance} to be {want.value}, it {_did(state.status)}"
                problems.append(self._describe(instance, state, head))
        if problems:
            raise AssertionError("\n".join(problems))

    # ---- logs --------------------------------------------------------------------------------------

    def logs(self, function: str, timeout: float | None = None) -> list[LogRecord]:
        """The instance's log records once it is final and its log settled."""
        instance = self._instance(function)
        self._wait(instance, timeout, quiet=True)
        return self.observer.records(instance)

    def assert_logs_contain(self, function: str, text: str, timeout: float | None = None) -> list[LogRecord]:
        """Each instance's log has a line containing `text`; returns the matching records."""
        found: list[LogRecord] = []
        problems = []
        for instance in self._instances(function):
            state = self._wait(instance, timeout, quiet=True)
            records = self.observer.records(instance)
            hits = [r for r in records if text in r.text]
            found += hits
            if hits:
                continue
            where = self._log_where(instance)
            if not records:
                problems.append(
                    f"expected the log of {instance} to contain {text!r}, but it has no log "
                    f"({where}; {instance} {_did(state.status)})"
                )
                continue
            tail = "\n".join(f"    {_line(r)}" for r in records[-LOG_LINES:])
            problems.append(
                f"expected the log of {instance} to contain {text!r}; no line of its {len(records)} "
                f"records does ({where}); last lines:\n{tail}"
            )
        if problems:
            raise AssertionError("\n".join(problems))
        return found

    # ---- S3 objects --------------------------------------------------------------------------------

    def read_object(
        self, key: str, *, store: str | None = None, after: str | Iterable[str] | None = None
    ) -> bytes | None:
        """The bytes of an object of this run (None when absent), once `after` (default: every
        function instance) is final. `key` is a template (see `key`)."""
        self._wait_after(after)
        client, bucket, rendered = self._where_object(key, store)
        try:
            return client.get_object(Bucket=bucket, Key=rendered)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code", "") in ("NoSuchKey", "404", "NotFound"):
                return None
            raise AssertionError(f"cannot read s3://{bucket}/{rendered}: {_s3_problem(exc)}") from None
        except BotoCoreError as exc:
            raise AssertionError(f"cannot read s3://{bucket}/{rendered}: {exc}") from None

    def assert_object_exists(
        self, key: str, *, store: str | None = None, after: str | Iterable[str] | None = None
    ) -> str:
        """The object exists (once `after`, default every instance, is final); returns its key."""
        body = self.read_object(key, store=store, after=after)
        _, bucket, rendered = self._where_object(key, store)
        if body is None:
            raise AssertionError(
                f"expected s3://{bucket}/{rendered} to exist, it does not "
                f"({self._where()}); {self._siblings(rendered, store)}"
            )
        return rendered

    def assert_object_does_not_exist(
        self, key: str, *, store: str | None = None, after: str | Iterable[str] | None = None
    ) -> str:
        """The object does not exist (once `after`, default every instance, is final)."""
        body = self.read_object(key, store=store, after=after)
        _, bucket, rendered = self._where_object(key, store)
        if body is not None:
            raise AssertionError(
                f"expected s3://{bucket}/{rendered} not to exist, but it does "
                f"({len(body)} bytes: {_show(body)}; {self._where()})"
            )
        return rendered

    def assert_content_equals(
        self,
        key: str,
        expected: str | bytes,
        *,
        store: str | None = None,
        after: str | Iterable[str] | None = None,
    ) -> None:
        """The object's content equals `expected` (text: a trailing newline is ignored, as in specs)."""
        body = self.read_object(key, store=store, after=after)
        _, bucket, rendered = self._where_object(key, store)
        if body is None:
            raise AssertionError(
                f"expected s3://{bucket}/{rendered} to equal {_show(expected)}, but it does not exist "
                f"({self._where()}); {self._siblings(rendered, store)}"
            )
        if isinstance(expected, bytes):
            same = body == expected
        else:
            text = body.decode("utf-8", errors="replace")
            same = text == expected or text.rstrip("\n") == expected.rstrip("\n")
        if not same:
            raise AssertionError(
                f"s3://{bucket}/{rendered}: expected {_show(expected)}, found {_show(body)} ({self._where()})"
            )

    def _where_object(self, key: str, store: str | None) -> tuple[Any, str, str]:
        store = store or self.workflow.default_store
        if store not in self.workflow.raw.get("DataStores", {}):
            known = ", ".join(self.workflow.raw.get("DataStores", {}))
            raise ValueError(f"{store!r} is not a DataStore of {self.workflow.name} (DataStores: {known})")
        return self._env.s3_client(store), self._env.bucket(store), self.key(key)

    def _siblings(self, key: str, store: str | None) -> str:
        client, bucket, _ = self._where_object(key, store)
        folder = key.rpartition("/")[0]
        prefix = folder + "/" if folder else ""
        try:
            listing = client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=21)
        except (ClientError, BotoCoreError) as exc:
            return f"could not list s3://{bucket}/{prefix}: {exc}"
        names = [o["Key"][len(prefix) :] for o in listing.get("Contents", [])]
        if not names:
            return f"s3://{bucket}/{prefix} is empty"
        more = ", ..." if listing.get("IsTruncated") else ""
        return f"s3://{bucket}/{prefix} holds: {', '.join(names[:20])}{more}"

    # ---- waiting and describing ------------------------------------------------------------------

    def _instance(self, function: str) -> str:
        instances = self._instances(function)
        if len(instances) > 1:
            raise ValueError(
                f"{function} has {len(instances)} ranked instances; name one: {', '.join(instances)}"
            )
        return instances[0]

    def _instances(self, function: str) -> list[str]:
        """`name(r)` -> itself; an action name -> its instances. ValueError names what exists."""
        wf = self.spec.faasr_workflow if self.spec else self.observer.workflow
        try:
            action, rank = split_instance(function)
        except ValueError:
            action, rank = "", None
        if action in wf.actions:
            instances = wf.instances(action)
            if rank is None:
                return instances
            if function in instances:
                return [function]
            raise ValueError(f"{function} is not an instance of {action}: {', '.join(instances)}")
        raise ValueError(
            f"{function!r} is not a function of workflow {wf.name}; actions: {', '.join(wf.actions)}"
        )

    def _wait(self, instance: str, timeout: float | None, quiet: bool = False) -> InstanceState:
        """Until the instance is final (and with `quiet` its log settled), the flow ended, or `timeout`."""
        obs = self.observer
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            state = obs.wait(instance, timeout=STEP)
            if obs.stopped or self._ended.is_set():
                return obs.state(instance)
            if state.status.is_final and (not quiet or obs.log_quiet(instance)):
                return state
            if deadline is not None and time.monotonic() >= deadline:
                return state

    def _wait_after(self, after: str | Iterable[str] | None) -> None:
        if after is None:
            names: Iterable[str] = self.observer.workflow.instances()
        else:
            names = [after] if isinstance(after, str) else after
        for name in names:
            for instance in self._instances(name):
                self._wait(instance, None)

    def _where(self) -> str:
        return f"invocation {self.invocation_id}, flow run {self.flow_run_name}"

    def _log_where(self, instance: str) -> str:
        store = self.workflow.logging_store
        return f"s3://{self._env.bucket(store)}/{self.keys.log_key(instance)}"

    def _describe(self, instance: str, state: InstanceState, head: str) -> str:
        """`head`, the instance's message and its error lines (or last lines) with their line numbers."""
        why = f": {state.message}" if state.message else ""
        lines = [f"{head}{why}", f"  where: function instance {instance}, {self._where()}"]
        if state.status in FAILURES or state.errors:
            self._wait(instance, self.observer.settle + 5 * self.observer.poll_interval, quiet=True)
            records = self.observer.records(instance)
            shown = [r for r in records if r.is_error] or records[-LOG_LINES:]
            if shown:
                lines.append(f"  log {self._log_where(instance)}:")
                lines += [f"    {_line(r)}" for r in shown[-LOG_LINES:]]
        return "\n".join(lines)

    def _unfinished(
        self, instance: str, state: InstanceState, timeout: float | None, want: FunctionStatus | None = None
    ) -> str:
        wanted = f" (expected {want.value})" if want else ""
        if self._cancelled:
            why = f"the run was cancelled: {self._cancelled}"
        elif timeout is not None and not self.observer.stopped:
            why = f"still {state.status.value} after {timeout:g} s"
        else:
            why = f"the run ended while it was {state.status.value}"
        return f"{instance} did not finish{wanted}: {why} ({self._where()})"


def _did(status: FunctionStatus) -> str:
    return {
        S.COMPLETED: "completed",
        S.FAILED: "failed",
        S.SKIPPED: "was skipped",
        S.TIMEOUT: "timed out",
        S.NOT_INVOKED: "was not invoked",
    }.get(status, f"is {status.value}")


def _line(record: LogRecord) -> str:
    return f"line {record.line}: {record}" if record.line else str(record)


def _show(value: str | bytes) -> str:
    text = value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value
    return repr(text if len(text) <= SHOWN else text[: SHOWN - 3] + "...")


def _s3_problem(exc: ClientError) -> str:
    err = exc.response.get("Error", {})
    return f"{err.get('Code', '?')} {err.get('Message', '')}".strip()
