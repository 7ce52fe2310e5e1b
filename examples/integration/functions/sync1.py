"""sync1: check that test-py-api wrote its outputs; its True result selects test-run-true."""

from FaaSr_py.client.py_client_stubs import faasr_get_folder_list, faasr_invocation_id, faasr_log


def sync1(folder: str, output1: str, output2: str) -> bool:
    remote = f"{folder}/{faasr_invocation_id()}"
    listing = faasr_get_folder_list(prefix=remote)
    missing = [name for name in (output1, output2) if f"{remote}/{name}" not in listing]
    if missing:
        raise RuntimeError(f"sync1: missing outputs {missing}")
    faasr_log("sync1: outputs present, returning True")
    return True
