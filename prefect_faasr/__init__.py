"""prefect-faasr: test FaaSr serverless workflows as Prefect flows."""

import sys

__version__ = "0.1.0"

_BLOCKS = ("FaaSrEnvironment", "FaaSrGitHubCredentials", "FaaSrOpenWhiskCredentials")

# Prefect imports this package through the `prefect.collections` entry point so that its block types
# register. Prefect itself is loaded by then, so the blocks are imported only in that case: a plain
# `import prefect_faasr` (validate, logs, spec) stays free of the second that importing Prefect takes.
if "prefect" in sys.modules:
    from prefect_faasr import blocks as _blocks  # noqa: F401


def __getattr__(name: str) -> object:
    if name in _BLOCKS:
        from prefect_faasr import blocks

        return getattr(blocks, name)
    raise AttributeError(f"module 'prefect_faasr' has no attribute {name!r}")
