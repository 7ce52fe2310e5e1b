"""test-py-api: exercise get, put, delete and folder listing on the invocation's input files."""

from FaaSr_py.client.py_client_stubs import (
    faasr_delete_file,
    faasr_get_file,
    faasr_get_folder_list,
    faasr_invocation_id,
    faasr_log,
    faasr_put_file,
)


def test_py_api(folder: str, input1: str, input2: str, input3: str, output1: str, output2: str) -> None:
    remote = f"{folder}/{faasr_invocation_id()}"
    faasr_get_file(local_file=input1, remote_folder=remote, remote_file=input1)
    faasr_get_file(local_file=input2, remote_folder=remote, remote_file=input2)
    with open(input1) as f1, open(input2) as f2, open(output1, "w") as out:
        out.write(f"{f1.read()} + {f2.read()}")
    faasr_put_file(local_file=output1, remote_folder=remote, remote_file=output1)

    faasr_delete_file(remote_folder=remote, remote_file=input1)
    faasr_log(f"Deleted {input1}")

    listing = sorted(faasr_get_folder_list(prefix=remote))
    with open(output2, "w") as out:
        out.write("\n".join(listing))
    faasr_put_file(local_file=output2, remote_folder=remote, remote_file=output2)
    faasr_log(
        f"Listed {len(listing)} objects under {remote}; {input3} present: {f'{remote}/{input3}' in listing}"
    )
