"""What the FaaSr engine writes to S3 for one invocation, written by hand in tests (contract §3-§4)."""

from __future__ import annotations

from typing import Any

from prefect_faasr.workflow import InvocationKeys

START = "[0.1] [INFO] [executor.py] Starting server on localhost port 8000\n"
ECHO = "[0.3] [DEBUG] [log.py] Log succesfully uploaded\n" * 2


def final(action: str, *successors: str) -> str:
    """The final flush's lines: the result line, then one trigger line per triggered instance."""
    lines = [f"[0.4] [DEBUG] [exec] Finished execution of {action} with result True\n"]
    lines += [f"[0.5] [INFO] [scheduler.py] OpenWhisk: Succesfully invoked {s}\n" for s in successors]
    return "".join(lines)


class Writer:
    """Writes logs (whole, as every flush does) and `.done` files into one bucket."""

    def __init__(self, s3: Any, bucket: str, keys: InvocationKeys) -> None:
        self.s3, self.bucket, self.keys = s3, bucket, keys

    def log(self, inst: str, text: str) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=self.keys.log_key(inst), Body=text.encode())

    def done(self, inst: str) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=self.keys.done_key(inst), Body=b"True")

    def run(self, inst: str, *successors: str) -> None:
        self.log(inst, START + "user line\n" + final(inst.split("(")[0], *successors))
        self.done(inst)
