"""create-input: write the input files of this invocation under `{folder}/{InvocationID}/`."""

from FaaSr_py.client.py_client_stubs import faasr_invocation_id, faasr_log, faasr_put_file


def create_input(folder: str, input1: str, input2: str, input3: str) -> None:
    remote = f"{folder}/{faasr_invocation_id()}"
    for name, text in ((input1, "Test input1"), (input2, "Test input2"), (input3, "Test input3")):
        with open(name, "w") as f:
            f.write(text)
        faasr_put_file(local_file=name, remote_folder=remote, remote_file=name)
    faasr_log(f"Created {input1}, {input2}, {input3} in {remote}")
