"""`FaaSrEnvironment`: one block name that selects every credential a FaaSr test run needs.

Prefect 3.8.8 accepts a `dict[str, AwsCredentials]` field, but it stores the nested blocks inline (saved
blocks are copied, not referenced) and its API then returns their secrets in plain text without
`include_secrets`: secret redaction only knows the path `field.secret`, not `field.<key>.secret`.
So this block names the credential blocks instead of holding them: each value is a block reference
`<block-type-slug>/<block-name>`; every secret stays in its own block, redacted by Prefect as usual.
"""

from __future__ import annotations

import re

from prefect.blocks.core import Block
from pydantic import Field, field_validator

BLOCK_REF_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*/[^/\s][^/]*$")

DATA_STORE_BLOCK_TYPES = ("aws-credentials", "minio-credentials")
COMPUTE_BLOCK_TYPES = {
    "GitHubActions": ("faasr-github-credentials",),
    "OpenWhisk": ("faasr-openwhisk-credentials",),
    "Lambda": ("aws-credentials",),
}


class FaaSrEnvironment(Block):
    """Where a FaaSr workflow runs: which credential block serves each DataStore and ComputeServer.

    Flows take the name of this block, never a secret. Values are block references
    `<block-type-slug>/<block-name>`: `aws-credentials/...` or `minio-credentials/...` for a DataStore
    (endpoint and region come from the workflow), `faasr-github-credentials/...` for GitHubActions,
    `faasr-openwhisk-credentials/...` for OpenWhisk and `aws-credentials/...` for Lambda. Only the entry
    action's server is needed to trigger; FaaSr starts later actions with its own secret store.

    Example:
        Load an environment and save one:
        ```python
        from prefect_faasr.blocks import FaaSrEnvironment

        environment = FaaSrEnvironment.load("BLOCK_NAME")

        FaaSrEnvironment(
            description="FaaSr nightly on GitHub Actions and OSN",
            data_stores={"My_S3_Bucket": "minio-credentials/osn-faasr"},
            compute_servers={"My_GitHub_Account": "faasr-github-credentials/faasr-bot"},
        ).save("nightly")
        ```
    """

    _block_type_name = "FaaSr Environment"
    _description = "The credential blocks a FaaSr test run uses, per DataStore and ComputeServer name."
    _documentation_url = "https://faasr.io/workflows"

    description: str = Field(
        default="",
        description="What this environment is, shown in test reports (never a secret).",
    )
    data_stores: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Credential block per FaaSr DataStore name, as aws-credentials/NAME or minio-credentials/NAME."
        ),
    )
    compute_servers: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Credential block per FaaSr ComputeServer name: faasr-github-credentials/NAME (GitHubActions), "
            "faasr-openwhisk-credentials/NAME (OpenWhisk) or aws-credentials/NAME (Lambda)."
        ),
    )

    @field_validator("data_stores", "compute_servers")
    @classmethod
    def _references(cls, value: dict[str, str]) -> dict[str, str]:
        for key, ref in value.items():
            if not BLOCK_REF_RE.match(ref):
                raise ValueError(
                    f"{key!r}: {ref!r} is not a block reference <block-type-slug>/<block-name>, "
                    f"e.g. 'aws-credentials/faasr-s3'"
                )
        return value
