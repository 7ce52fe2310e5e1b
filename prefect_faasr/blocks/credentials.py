"""Credential blocks for the compute servers FaaSr triggers: GitHub Actions and OpenWhisk.

Lambda uses prefect-aws's `AwsCredentials`, DataStores `AwsCredentials` or `MinIOCredentials`.
"""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from prefect_faasr.triggers.auth import GITHUB_API_URL, GitHubAuth, OpenWhiskAuth


class FaaSrGitHubCredentials(Block):
    """A GitHub token that dispatches the workflows FaaSr registers in an action repository.

    A classic token needs the `workflow` scope (and `repo` for a private repository); a fine-grained
    token needs "Actions: read and write" on the action repository.

    Example:
        Load stored GitHub credentials:
        ```python
        from prefect_faasr.blocks import FaaSrGitHubCredentials

        github_credentials = FaaSrGitHubCredentials.load("BLOCK_NAME")
        ```
    """

    _block_type_name = "FaaSr GitHub Credentials"
    _description = "A GitHub personal access token that starts FaaSr actions through workflow_dispatch."
    _documentation_url = "https://docs.github.com/en/rest/actions/workflows#create-a-workflow-dispatch-event"

    token: SecretStr = Field(
        default=...,
        description="GitHub personal access token that may dispatch workflows in the action repository.",
    )
    api_url: str = Field(
        default=GITHUB_API_URL,
        description="Base URL of the GitHub REST API (for GitHub Enterprise Server: https://HOST/api/v3).",
    )

    def to_auth(self, source: str | None = None) -> GitHubAuth:
        """The token as the GitHub trigger takes it; `source` names this block in error messages."""
        name = source or _describe(self)
        return GitHubAuth(token=self.token, api_url=self.api_url, source=name)


class FaaSrOpenWhiskCredentials(Block):
    """An OpenWhisk API key (`user:password`), the `APIkey` FaaSr uses for an OpenWhisk server.

    Example:
        Load a stored OpenWhisk API key:
        ```python
        from prefect_faasr.blocks import FaaSrOpenWhiskCredentials

        openwhisk_credentials = FaaSrOpenWhiskCredentials.load("BLOCK_NAME")
        ```
    """

    _block_type_name = "FaaSr OpenWhisk Credentials"
    _description = "An OpenWhisk API key (user:password) that starts FaaSr actions through the REST API."
    _documentation_url = "https://github.com/apache/openwhisk/blob/master/docs/rest_api.md"

    api_key: SecretStr = Field(
        default=...,
        description="OpenWhisk API key as user:password (what `wsk property get --auth` shows).",
    )

    def to_auth(self, source: str | None = None) -> OpenWhiskAuth:
        """The key as the OpenWhisk trigger takes it; `source` names this block in error messages."""
        return OpenWhiskAuth(api_key=self.api_key, source=source or _describe(self))


def _describe(block: Block) -> str:
    name = getattr(block, "_block_document_name", None)
    slug = block.get_block_type_slug()
    return f"block {slug}/{name}" if name else f"the {block.get_block_type_name()} block"
