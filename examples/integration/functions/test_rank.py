"""test-rank: one instance per rank; each writes one object named after its rank."""

from FaaSr_py.client.py_client_stubs import faasr_invocation_id, faasr_log, faasr_put_file, faasr_rank


def test_rank(folder: str, rank_folder: str) -> None:
    info = faasr_rank()
    name = f"rank-{info['rank']}.txt"
    with open(name, "w") as f:
        f.write(f"rank {info['rank']} of {info['max_rank']}")
    faasr_put_file(
        local_file=name, remote_folder=f"{folder}/{faasr_invocation_id()}/{rank_folder}", remote_file=name
    )
    faasr_log(f"test-rank: wrote {name} ({info['rank']}/{info['max_rank']})")
