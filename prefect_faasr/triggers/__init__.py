"""Starting a FaaSr invocation on a real backend: GitHub Actions, OpenWhisk (also the local compute
server) and AWS Lambda. One module per FaaSType; `trigger_entry` dispatches on the entry's FaaSType.

Example:
    ```python
    from prefect_faasr.triggers import GitHubAuth, trigger_entry

    invocation = workflow.new_invocation()
    receipt = trigger_entry(workflow, invocation, "owner/repo/main/workflow.json", GitHubAuth(token=pat))
    ```
"""

from prefect_faasr.triggers.auth import GITHUB_API_URL, ComputeAuth, GitHubAuth, LambdaAuth, OpenWhiskAuth
from prefect_faasr.triggers.entry import (
    SUPPORTED_FAAS_TYPES,
    deployed_name,
    entry_overwritten,
    entry_problems,
    entry_server,
    trigger_entry,
)
from prefect_faasr.triggers.errors import TriggerError, UnsupportedFaaSTypeError
from prefect_faasr.triggers.findings import Finding
from prefect_faasr.triggers.receipt import TriggerReceipt

__all__ = [
    "GITHUB_API_URL",
    "SUPPORTED_FAAS_TYPES",
    "ComputeAuth",
    "Finding",
    "GitHubAuth",
    "LambdaAuth",
    "OpenWhiskAuth",
    "TriggerError",
    "TriggerReceipt",
    "UnsupportedFaaSTypeError",
    "deployed_name",
    "entry_overwritten",
    "entry_problems",
    "entry_server",
    "trigger_entry",
]
