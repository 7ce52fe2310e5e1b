"""What a trigger needs to authenticate, as plain values (the environment builds them from blocks).

Secrets are `SecretStr`, so reprs and logs show `**********`. `source` names where the credentials
come from (e.g. a block) so that error messages can say what to fix without showing the secret.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

from prefect_faasr.triggers.errors import TriggerError

GITHUB_API_URL = "https://api.github.com"


@dataclass(frozen=True)
class GitHubAuth:
    """A GitHub token that may dispatch workflows, and the API it is for."""

    token: SecretStr
    api_url: str = GITHUB_API_URL
    source: str = "the GitHub token"


@dataclass(frozen=True)
class OpenWhiskAuth:
    """An OpenWhisk API key `user:password` (the `APIkey` FaaSr reads)."""

    api_key: SecretStr
    source: str = "the OpenWhisk API key"

    def basic_auth(self) -> tuple[str, str]:
        user, sep, password = self.api_key.get_secret_value().partition(":")
        if not sep or not user:
            raise TriggerError(f"{self.source} is not of the form user:password (as OpenWhisk issues keys)")
        return user, password


@dataclass(frozen=True)
class LambdaAuth:
    """AWS credentials for Lambda; all None means boto3's default chain (environment, profile, role)."""

    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None
    endpoint_url: str | None = None
    source: str = "the AWS credentials"

    def secrets(self) -> tuple[SecretStr | None, ...]:
        return (self.access_key_id, self.secret_access_key, self.session_token)


ComputeAuth = GitHubAuth | OpenWhiskAuth | LambdaAuth
