"""prefect-faasr: test FaaSr serverless workflows as Prefect flows."""

__version__ = "0.1.0"

_BLOCKS = ("FaaSrEnvironment", "FaaSrGitHubCredentials", "FaaSrOpenWhiskCredentials")


def __getattr__(name: str) -> object:
    # Block classes on demand: `import prefect_faasr` stays free of the second importing Prefect takes.
    # Prefect registers the blocks through the `prefect.collections` entry point (prefect_faasr.blocks).
    if name in _BLOCKS:
        from prefect_faasr import blocks

        return getattr(blocks, name)
    raise AttributeError(f"module 'prefect_faasr' has no attribute {name!r}")
