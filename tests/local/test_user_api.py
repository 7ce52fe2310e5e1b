"""The faasr_* functions as user code sees them (contract §6): keys, defaults, errors, injection."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_helpers import bucket_of, objects, run_workflow, single_action

from prefect_faasr.local import LocalFaaSr
from prefect_faasr.logs import errors, function_result, parse_log

pytestmark = pytest.mark.integration

FUNCTIONS = """
import json
import sys
from FaaSr_py.client.py_client_stubs import faasr_exit, faasr_invocation_id, faasr_return

def write(name, text="x"):
    with open(name, "w") as f:
        f.write(text)

def keys():
    write("k.txt")
    faasr_put_file(local_file="k.txt", remote_folder="api//keys/", remote_file="a.txt")
    faasr_put_file(local_file="k.txt", remote_folder=".", remote_file="api-root.txt")
    faasr_put_file(local_file="k.txt", remote_folder="/api-abs", remote_file="b.txt")
    faasr_put_file(local_file="k.txt", remote_folder="api/keys/./sub", remote_file="c.txt/")
    import os
    os.makedirs("deep/dir")
    write("deep/dir/d.txt", "deep")
    faasr_put_file(local_file="deep/dir/d.txt", remote_folder="api/keys", remote_file="d.txt")
    faasr_put_file("d.txt", "e.txt", local_folder="deep/dir/", remote_folder="api/keys")
    faasr_get_file(local_file="got.txt", remote_folder="api/keys", remote_file="d.txt")
    faasr_log("got " + open("got.txt").read())
    faasr_delete_file(remote_folder="api/keys", remote_file="a.txt")
    faasr_delete_file(remote_folder="api/keys", remote_file="never-existed.txt")
    faasr_log(json.dumps(sorted(faasr_get_folder_list(prefix="api/keys"))))
    faasr_log({"not": "a string"})
    faasr_log(faasr_rank())
    return "yes"

def creds():
    c = faasr_get_s3_creds()
    faasr_log(json.dumps(c, sort_keys=True))
    faasr_log("id " + faasr_invocation_id())

def get_missing():
    faasr_get_file(local_file="m.txt", remote_folder="api", remote_file="missing.txt")

def put_missing():
    faasr_put_file(local_file="nope.txt", remote_file="nope.txt")

def bad_store():
    write("s.txt")
    faasr_put_file(local_file="s.txt", remote_file="s.txt", server_name="Elsewhere")

def empty_log():
    faasr_log("")

def early_return():
    faasr_return(True)
    raise RuntimeError("not reached")

def explicit_exit():
    faasr_exit("user said stop")

def exit_zero():
    sys.exit(0)

def swallow():
    try:
        get_missing()
    except Exception:
        faasr_log("caught")

def secret():
    faasr_log("secret length " + str(len(faasr_secret("MY_TOKEN"))))

def needs_arg(required):
    return True
"""

BROKEN = "raise ValueError('broken at import')\n"


@pytest.fixture(scope="module")
def funcs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("functions")
    (path / "api_functions.py").write_text(textwrap.dedent(FUNCTIONS))
    return path


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalFaaSr]:
    with LocalFaaSr(secrets={"MY_TOKEN": "s3cr3t-value"}) as env:
        yield env


def run_one(env: LocalFaaSr, funcs: Path, function: str, **kw: object) -> tuple[dict, object, dict[str, str]]:
    wf, started, acts = run_workflow(
        env, single_action(f"Api-{function.replace('_', '-')}", function, **kw), funcs
    )
    objs = objects(env, bucket_of(wf), started.keys.folder + "/")
    act = acts[0]
    log = parse_log(objs.get(started.keys.log_key("only"), ""))
    return {"act": act, "log": log, "done": started.keys.done_key("only") in objs}, started, objs


def user_lines(result: dict) -> list[str]:
    return [r.message for r in result["log"] if r.is_user]


def test_keys_defaults_and_listing(runtime: LocalFaaSr, funcs: Path) -> None:
    result, _, _ = run_one(runtime, funcs, "keys")
    assert result["act"].exit_code == 0 and result["done"]
    stored = set(objects(runtime, "local-tests"))
    assert {
        "api-root.txt",
        "/api-abs/b.txt",
        "api/keys/sub/c.txt",
        "api/keys/d.txt",
        "api/keys/e.txt",
    } <= stored
    assert "api/keys/a.txt" not in stored  # deleted
    lines = user_lines(result)
    assert lines[0] == "got deep"
    assert lines[1] == '["api/keys/d.txt", "api/keys/e.txt", "api/keys/sub/c.txt"]'
    assert lines[2] == "{'not': 'a string'}"
    assert lines[3] == "{'max_rank': 1, 'rank': 1}"
    assert function_result(result["log"]) == "True"  # "yes" coerced like pydantic lax bool


def test_creds_and_invocation_id(runtime: LocalFaaSr, funcs: Path) -> None:
    import json

    result, started, _ = run_one(runtime, funcs, "creds")
    creds = json.loads(user_lines(result)[0])
    assert creds == {
        "access_key": runtime.s3_access_key,
        "anonymous": False,
        "bucket": "local-tests",
        "endpoint": runtime.s3_endpoint,
        "region": "us-east-1",
        "secret_key": runtime.s3_secret_key,
    }
    assert user_lines(result)[1] == f"id {started.invocation_id}"


@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("get_missing", "S3 object not found: s3://local-tests/api/missing.txt"),
        ("put_missing", "ERROR - failed to invoke faasr_put_file - Local file not found: nope.txt"),
        ("bad_store", "Invalid data server name: Elsewhere"),
        ("swallow", "S3 object not found: s3://local-tests/api/missing.txt"),
    ],
)
def test_failing_calls_end_the_user_process(
    runtime: LocalFaaSr, funcs: Path, function: str, message: str
) -> None:
    """The stub exits 1 (SystemExit: `except Exception` does not catch it): row F, no `.done`."""
    result, _, _ = run_one(runtime, funcs, function)
    msgs = [r.message for r in errors(result["log"])]
    assert msgs == [message, "non-zero exit code (1) from user function"]
    assert not result["done"] and result["act"].exit_code == 1
    assert "caught" not in user_lines(result)


def test_empty_log_message_exits_in_the_stub(runtime: LocalFaaSr, funcs: Path) -> None:
    result, _, _ = run_one(runtime, funcs, "empty_log")
    assert "faasr_log called with empty log_message" in result["act"].stdout
    assert [r.message for r in errors(result["log"])] == ["non-zero exit code (1) from user function"]


def test_faasr_return_and_exit_and_sys_exit_zero(runtime: LocalFaaSr, funcs: Path) -> None:
    early, _, _ = run_one(runtime, funcs, "early_return")
    assert early["done"] and function_result(early["log"]) == "True" and not errors(early["log"])
    stop, _, _ = run_one(runtime, funcs, "explicit_exit")
    assert stop["done"] and errors(stop["log"])[0].message == "user said stop"
    zero, _, _ = run_one(runtime, funcs, "exit_zero")
    assert zero["done"] and function_result(zero["log"]) == "None" and zero["act"].exit_code == 0


def test_function_not_found_and_bad_arguments_are_row_e(runtime: LocalFaaSr, funcs: Path) -> None:
    missing, _, _ = run_one(runtime, funcs, "no_such_function")
    assert missing["done"]
    assert (
        errors(missing["log"])[0].message == "{py_user_func_entry.py: cannot find function no_such_function}"
    )
    args, _, _ = run_one(runtime, funcs, "needs_arg")
    assert args["done"]
    assert "missing 1 required positional argument: 'required'" in errors(args["log"])[0].message


def test_import_error_in_a_source_file_is_row_f(runtime: LocalFaaSr, tmp_path: Path) -> None:
    (tmp_path / "a_broken.py").write_text(BROKEN)
    (tmp_path / "b_good.py").write_text("def fine():\n    return None\n")
    result, _, _ = run_one(runtime, tmp_path, "fine")
    msgs = [r.message for r in errors(result["log"])]
    assert msgs[0] == "Python file a_broken.py has following source error: broken at import"
    assert not result["done"] and result["act"].exit_code == 1


def test_secret_from_the_runtime(runtime: LocalFaaSr, funcs: Path) -> None:
    result, _, _ = run_one(runtime, funcs, "secret", Secrets=["MY_TOKEN"])
    assert user_lines(result) == ["secret length 12"]
    assert "s3cr3t-value" not in result["act"].stdout


def test_secret_must_be_listed_in_the_workflow(runtime: LocalFaaSr, funcs: Path) -> None:
    result, _, _ = run_one(runtime, funcs, "secret")
    assert "ERROR - failed to invoke faasr_secret" in errors(result["log"])[0].message
    assert not result["done"]


def test_shim_is_not_importable_outside_activations() -> None:
    import importlib.util

    spec = importlib.util.find_spec("FaaSr_py")
    assert spec is None or "shim" not in str(spec.origin)
