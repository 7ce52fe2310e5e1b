"""test-run-false: runs on test-run-true's False branch, then fans out to test-rank(5)."""

from FaaSr_py.client.py_client_stubs import faasr_invocation_id, faasr_log, faasr_put_file


def test_run_false(folder: str, output: str) -> None:
    with open(output, "w") as f:
        f.write("test-run-false ran")
    faasr_put_file(local_file=output, remote_folder=f"{folder}/{faasr_invocation_id()}", remote_file=output)
    faasr_log("test-run-false: done")
