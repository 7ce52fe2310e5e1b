"""`prefect-faasr local ...`: run the local FaaSr runtime as a long-lived service.

`serve` starts the runtime, writes a state file (mode 0600, endpoints and credentials) that other
processes connect with (`LocalRuntimeClient.from_state_file`), and runs until SIGINT or SIGTERM.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

STATE_FILE_ENV = "PREFECT_FAASR_LOCAL_STATE_FILE"
STATE_FILE_HELP = (
    f"Where to write endpoints and credentials (default: ${STATE_FILE_ENV}, "
    "else ~/.prefect-faasr/local-runtime.json)."
)
STATE_DIR_HELP = "Folder for payloads, activation folders and server logs (default: a temporary one)."
START_METHOD_HELP = "forkserver (fast) or spawn (a fresh interpreter per activation)."


def default_state_file() -> Path:
    """`$PREFECT_FAASR_LOCAL_STATE_FILE`, else `~/.prefect-faasr/local-runtime.json`."""
    return Path(os.environ.get(STATE_FILE_ENV) or Path.home() / ".prefect-faasr" / "local-runtime.json")


app = typer.Typer(help="The embedded local FaaSr runtime (local S3 + OpenWhisk-compatible compute server).")


@app.callback()
def _local() -> None:
    """Run FaaSr workflows offline on this machine."""


@app.command()
def serve(
    state_file: Annotated[Path | None, typer.Option(help=STATE_FILE_HELP)] = None,
    state_dir: Annotated[Path | None, typer.Option(help=STATE_DIR_HELP)] = None,
    max_workers: Annotated[int, typer.Option(min=1, max=256, help="Activations that run at once.")] = 8,
    start_method: Annotated[str, typer.Option(help=START_METHOD_HELP)] = "forkserver",
    namespace: Annotated[str, typer.Option(help="OpenWhisk namespace of the compute server.")] = "guest",
) -> None:
    """Start the local runtime and keep it running until interrupted."""
    from prefect_faasr.local.runtime import LocalFaaSr  # here: `prefect-faasr --help` stays fast

    if start_method not in ("forkserver", "spawn"):
        raise typer.BadParameter("use 'forkserver' or 'spawn'", param_hint="--start-method")
    path = (state_file or default_state_file()).expanduser()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    env = LocalFaaSr(state_dir, namespace=namespace, max_workers=max_workers, start_method=start_method)  # type: ignore[arg-type]
    with env:
        env.write_state_file(path)
        typer.echo(f"S3 endpoint:      {env.s3_endpoint}")
        typer.echo(f"compute endpoint: {env.compute_endpoint} (namespace {namespace})")
        typer.echo(f"state file:       {path}")
        typer.echo("Ready. Press Ctrl+C to stop.")
        try:
            while not stop.wait(0.5):
                pass
        finally:
            path.unlink(missing_ok=True)
    typer.echo("Stopped.")


if __name__ == "__main__":
    app()
