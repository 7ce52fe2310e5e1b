"""test-run-true: runs on sync1's True branch; its False result selects test-run-false."""

from FaaSr_py.client.py_client_stubs import faasr_invocation_id, faasr_log, faasr_put_file


def test_run_true(folder: str, output: str) -> bool:
    with open(output, "w") as f:
        f.write("test-run-true ran")
    faasr_put_file(local_file=output, remote_folder=f"{folder}/{faasr_invocation_id()}", remote_file=output)
    faasr_log("test-run-true: returning False")
    return False
