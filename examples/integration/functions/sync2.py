"""sync2: fan-in over the test-rank instances; checks every rank file and both branch outputs."""

from FaaSr_py.client.py_client_stubs import (
    faasr_get_folder_list,
    faasr_invocation_id,
    faasr_log,
    faasr_put_file,
)


def sync2(
    folder: str, rank_folder: str, expected_ranks: int, run_true_output: str, run_false_output: str
) -> None:
    remote = f"{folder}/{faasr_invocation_id()}"
    ranks = sorted(faasr_get_folder_list(prefix=f"{remote}/{rank_folder}/"))
    if len(ranks) != expected_ranks:
        raise RuntimeError(f"sync2: expected {expected_ranks} rank files, found {len(ranks)}: {ranks}")
    listing = faasr_get_folder_list(prefix=remote)
    missing = [n for n in (run_true_output, run_false_output) if f"{remote}/{n}" not in listing]
    if missing:
        raise RuntimeError(f"sync2: missing outputs {missing}")
    with open("summary.txt", "w") as f:
        f.write(f"{len(ranks)} ranks\n")
    faasr_put_file(local_file="summary.txt", remote_folder=remote, remote_file="summary.txt")
    faasr_log(f"sync2: all {len(ranks)} ranks present")
