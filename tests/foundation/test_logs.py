"""FaaSr log parsing: records, continuation lines vs raw user lines, errors, trigger lines, LogTail."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prefect_faasr.logs import (
    LogRecord,
    LogTail,
    errors,
    function_result,
    parse_log,
    trigger_lines,
    triggered,
)

from .samples import REAL_RUN

BOOM_LOG = next((REAL_RUN / "03-fail-serial-container" / "s3").rglob("boom.txt"))


def test_engine_record_fields() -> None:
    [r] = parse_log("[0.585] [INFO] [scheduler.py] OpenWhisk: Succesfully invoked left\n")
    assert (r.time, r.level, r.file, r.message, r.continuation, r.line) == (
        0.585,
        "INFO",
        "scheduler.py",
        "OpenWhisk: Succesfully invoked left",
        (),
        1,
    )
    assert not r.is_user and not r.is_error
    assert str(r) == "[0.585] [INFO] [scheduler.py] OpenWhisk: Succesfully invoked left"


def test_user_lines_are_kept_raw() -> None:
    text = (
        "[0.1] [INFO] [executor.py] Starting server on localhost port 8000\n"
        "wf_prep: sum=6; returning True\n"
        "[ERROR] not a record: it has no time\n"
        "[1.0] [TRACE] [x.py] not a FaaSr level\n"
        "[0.2] [INFO] [faasr_server.py] Processing request: faasr_log\n"
    )
    records = parse_log(text)
    assert [(r.level, r.line) for r in records] == [
        ("INFO", 1),
        ("USER", 2),
        ("USER", 3),
        ("USER", 4),
        ("INFO", 5),
    ]
    assert records[1].message == "wf_prep: sum=6; returning True"
    assert str(records[1]) == records[1].message
    assert errors(records) == []


def test_logger_exception_with_stack_info_is_one_record() -> None:
    records = parse_log(BOOM_LOG.read_text())
    errs = errors(records)
    assert [r.message for r in errs] == [
        "intentional failure from wf_boom",
        "Traceback: Traceback (most recent call last):",
        "intentional failure from wf_boom",
    ]
    # stack_info section; the user traceback with its trailing blank line; exception + traceback + stack
    assert errs[0].continuation[0] == "Stack (most recent call last):"
    assert "ValueError: intentional failure from wf_boom" in errs[1].continuation
    assert errs[1].continuation[-1] == ""
    assert errs[2].continuation[0] == "Traceback (most recent call last):"
    assert "RuntimeError: intentional failure from wf_boom" in errs[2].continuation
    assert "Stack (most recent call last):" in errs[2].continuation
    assert errs[1].text.endswith("ValueError: intentional failure from wf_boom")
    # every line of the file is in exactly one record
    assert sum(1 + len(r.continuation) for r in records) == len(BOOM_LOG.read_text().splitlines())
    assert [r.message for r in records if r.is_user] == ["wf_boom: about to raise"]


TRACEBACK = [
    "Traceback (most recent call last):",
    '  File "/tmp/functions/f.py", line 3, in f',
    "    raise ValueError('bad')",
    "ValueError: bad",
]


@pytest.mark.parametrize(
    ("after", "is_user"),
    [
        ("wf_x: done", True),  # looks like `Name: message`, but the traceback already ended
        ("done", True),
        ("  indented", False),
        ("", False),
        ("Stack (most recent call last):", False),
    ],
)
def test_what_follows_a_traceback(after: str, is_user: bool) -> None:
    text = "\n".join(["[1.0] [ERROR] [executor.py] failed", *TRACEBACK, after, "[2.0] [INFO] [x.py] next"])
    records = parse_log(text)
    if is_user:
        assert [r.level for r in records] == ["ERROR", "USER", "INFO"]
        assert records[1].message == after
    else:
        assert [r.level for r in records] == ["ERROR", "INFO"]
        assert records[0].continuation == (*TRACEBACK, after)


def test_user_line_after_a_stack_section() -> None:
    text = "\n".join(
        [
            "[1.0] [ERROR] [executor.py] boom",
            "Stack (most recent call last):",
            '  File "exec", line 353, in <module>',
            "    handler()",
            "handler: ok",
        ]
    )
    records = parse_log(text)
    assert [r.level for r in records] == ["ERROR", "USER"]
    assert len(records[0].continuation) == 3


def test_chained_exceptions_stay_in_one_record() -> None:
    lines = [
        "[1.0] [CRITICAL] [helper.py] Cannot have both FunctionGitRepo and FunctionLocalFile",
        *TRACEBACK,
        "",
        "During handling of the above exception, another exception occurred:",
        "",
        "Traceback (most recent call last):",
        '  File "x.py", line 1, in <module>',
        "KeyError: 'k'",
    ]
    [r] = parse_log("\n".join(lines) + "\n")
    assert r.level == "CRITICAL" and r.is_error
    assert r.continuation == tuple(lines[1:])


def test_a_plain_record_does_not_swallow_user_lines() -> None:
    records = parse_log("[1.0] [INFO] [x.py] hello\nError: user text\n  indented user text\n")
    assert [r.level for r in records] == ["INFO", "USER", "USER"]


def test_crlf_blank_lines_and_bytes() -> None:
    text = "[1.0] [INFO] [x.py] a\r\nuser\r\n\r\n[2.0] [WARNING] [x.py] b ]with[ brackets\r\n"
    records = parse_log(text)
    assert [(r.level, r.message) for r in records] == [
        ("INFO", "a"),
        ("USER", "user"),
        ("USER", ""),
        ("WARNING", "b ]with[ brackets"),
    ]
    assert parse_log(text.encode()) == records
    assert parse_log("") == []


def test_errors_are_error_and_critical_only() -> None:
    text = "\n".join(
        f"[{i}.0] [{level}] [x.py] m{i}"
        for i, level in enumerate(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])
    )
    assert [r.level for r in errors(parse_log(text))] == ["ERROR", "CRITICAL"]


def test_duplicated_and_out_of_order_lines_are_kept() -> None:
    """FaaSr writes server lines twice and appends parent lines later with earlier times (§4.2)."""
    text = (
        "[0.292] [INFO] [faasr_server.py] Processing request: faasr_log\n"
        "[0.292] [INFO] [faasr_server.py] Processing request: faasr_log\n"
        "[0.135] [DEBUG] [log.py] Log succesfully uploaded\n"
    )
    records = parse_log(text)
    assert [r.time for r in records] == [0.292, 0.292, 0.135]
    assert records[0] != records[1]  # different line numbers: a duplicate is still its own record
    assert (records[0].message, records[0].level) == (records[1].message, records[1].level)


# ---- trigger lines: contract §4.3, exactly as worded --------------------------------------------

TRIGGERS = [
    ("GitHub Action: Successfully invoked: next-step", "GitHubActions", "next-step", None),
    ("Lambda: Successfully invoked: next-step", "Lambda", "next-step", None),
    ("OpenWhisk: Succesfully invoked next-step", "OpenWhisk", "next-step", None),
    ("GoogleCloud: Successfully invoked My-WF-next-step", "GoogleCloud", "next-step", None),
    ("SLURM: Successfully submitted job: next-step (Job ID: 4711)", "SLURM", "next-step", None),
    ("SLURM: Successfully submitted job: next-step (Job ID: unknown)", "SLURM", "next-step", None),
    (
        "('Kubernetes: Successfully submitted jobs: next-step (Job ID: 9d1c2f4e-7b1a-4a53-9c1e)', "
        "'(Created at: 2026-11-21T09:36:32Z)')",
        "Kubernetes",
        "next-step",
        None,
    ),
    ("SIMULATED TRIGGER: next-step", "Simulated", "next-step", None),
    ("SIMULATED TRIGGER: map.2", "Simulated", "map", 2),
]


@pytest.mark.parametrize(
    ("message", "faas_type", "action", "rank"), TRIGGERS, ids=[t[1] + str(i) for i, t in enumerate(TRIGGERS)]
)
def test_trigger_wording(message: str, faas_type: str, action: str, rank: int | None) -> None:
    records = parse_log(f"[0.6] [INFO] [scheduler.py] {message}\n")
    [t] = trigger_lines(records, workflow_name="My-WF")
    assert (t.action, t.faas_type, t.rank) == (action, faas_type, rank)
    assert t.record is records[0]
    assert triggered(records, "My-WF") == Counter({action: 1})


def test_googlecloud_names_keep_the_prefix_without_the_workflow_name() -> None:
    records = parse_log("[0.6] [INFO] [scheduler.py] GoogleCloud: Successfully invoked My-WF-next\n")
    assert [t.action for t in trigger_lines(records)] == ["My-WF-next"]
    assert [t.action for t in trigger_lines(records, "Other")] == ["My-WF-next"]


@pytest.mark.parametrize(
    "line",
    [
        "[0.5] [DEBUG] [scheduler.py] Prepending workflow name. Full function: WF-next",
        "[0.5] [INFO] [scheduler.py] SLURM: Submitting job to https://slurm.example/slurm/v0.0.37/job/submit",
        "[0.5] [INFO] [scheduler.py] Next GCP action expects secrets in payload - including credentials",
        "[0.5] [INFO] [scheduler.py] SKIPPING REAL TRIGGERS",
        "[0.5] [ERROR] [scheduler.py] OpenWhisk: Error invoking next: status code: 404",
        "[0.5] [ERROR] [scheduler.py] GitHub Action: Successfully invoked: looks-right-but-is-ERROR",
        "[0.5] [INFO] [scheduler.py] GitHub Action: Successfully invoked: two words",
        "GitHub Action: Successfully invoked: written-by-faasr_log",
        "[0.5] [INFO] [scheduler.py] no triggers for final",
    ],
)
def test_lines_that_are_not_triggers(line: str) -> None:
    assert trigger_lines(parse_log(line)) == []


def test_ranked_targets_count_once_per_instance() -> None:
    line = "[1.2] [INFO] [scheduler.py] GitHub Action: Successfully invoked: worker\n"
    text = line * 3 + "[1.3] [INFO] [scheduler.py] GitHub Action: Successfully invoked: side\n"
    assert triggered(parse_log(text)) == Counter({"worker": 3, "side": 1})


def test_function_result() -> None:
    text = "[0.58] [DEBUG] [exec] Finished execution of prep with result True\n"
    assert function_result(parse_log(text)) == "True"
    assert function_result(parse_log("Finished execution of prep with result True\n")) is None  # a user line
    assert function_result(parse_log("[0.1] [INFO] [x.py] other\n")) is None


# ---- LogTail -------------------------------------------------------------------------------------


def _tail(chunks: list[str] | list[bytes]) -> tuple[list[LogRecord], LogTail]:
    tail = LogTail()
    out: list[LogRecord] = []
    for chunk in chunks:
        out.extend(tail.feed(chunk))
    out.extend(tail.flush())
    return out, tail


@pytest.mark.parametrize("size", [1, 7, 64, 4096])
def test_logtail_on_a_real_log_in_fixed_chunks(size: int) -> None:
    data = BOOM_LOG.read_bytes()
    records, tail = _tail([data[i : i + size] for i in range(0, len(data), size)])
    assert records == tail.records == parse_log(data.decode())


def test_logtail_holds_back_the_record_that_may_still_grow() -> None:
    tail = LogTail()
    assert tail.feed("[1.0] [ERROR] [x.py] failed\n") == []
    assert tail.feed("Traceback (most recent call last):\n") == []
    # the next line is not complete yet, so the error record may still grow
    assert tail.feed("  File 'x'\nValueError: v\n[2.0] [INFO] [x.py] aft") == []
    done = tail.feed("er\n")
    assert [r.message for r in done] == ["failed"]
    assert done[0].continuation == ("Traceback (most recent call last):", "  File 'x'", "ValueError: v")
    assert [r.message for r in tail.flush()] == ["after"]


def test_logtail_splits_a_utf8_character_across_chunks() -> None:
    data = "[1.0] [INFO] [x.py] café ☕\nüser\n".encode()
    cut = data.index("☕".encode()) + 1
    records, _ = _tail([data[:cut], data[cut:]])
    assert [r.message for r in records] == ["café ☕", "üser"]


_LINE = st.one_of(
    st.builds(
        "[{}] [{}] [{}] {}".format,
        st.floats(min_value=0, max_value=1e4, allow_nan=False).map(lambda f: round(f, 3)),
        st.sampled_from(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]),
        st.sampled_from(["executor.py", "scheduler.py", "exec"]),
        st.text(st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), max_size=30),
    ),
    st.sampled_from(
        [
            "Traceback (most recent call last):",
            "Stack (most recent call last):",
            '  File "x.py", line 1, in f',
            "    raise ValueError()",
            "ValueError: bad",
            "KeyError",
            "",
            "During handling of the above exception, another exception occurred:",
            "wf_user: done",
            "GitHub Action: Successfully invoked: x",
        ]
    ),
    st.text(st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), max_size=20),
)


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(_LINE, max_size=25),
    newline_at_end=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12),
    as_bytes=st.booleans(),
)
def test_logtail_in_arbitrary_chunks_equals_parse_log(
    lines: list[str], newline_at_end: bool, cuts: list[int], as_bytes: bool
) -> None:
    text = "\n".join(lines) + ("\n" if newline_at_end and lines else "")
    data: str | bytes = text.encode() if as_bytes else text
    bounds = [0, *sorted(c for c in cuts if c < len(data)), len(data)]
    chunks = [data[a:b] for a, b in itertools.pairwise(bounds)]
    records, tail = _tail(chunks)  # type: ignore[arg-type]
    assert records == parse_log(text)
    assert tail.records == records


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(_LINE, max_size=25), cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12)
)
def test_logtail_peek_shows_the_records_not_final_yet(lines: list[str], cuts: list[int]) -> None:
    """After every chunk, the final records plus peek() are what parse_log makes of the text so far."""
    data = "\n".join(lines).encode()
    bounds = [0, *sorted(c for c in cuts if c < len(data)), len(data)]
    tail = LogTail()
    for start, end in itertools.pairwise(bounds):
        tail.feed(data[start:end])
        try:
            so_far = data[:end].decode()
        except UnicodeDecodeError:
            continue  # a character cut in two: its first bytes wait in the decoder
        assert tail.records + tail.peek() == parse_log(so_far)
    assert tail.peek() == tail.flush()
