"""AWS Lambda: start a FaaSr action with an asynchronous (Event) invoke (contract §2.2).

`invoke(FunctionName="{WF}-{A}", InvocationType="Event", Payload={"OVERWRITTEN": "<JSON string>",
"PAYLOAD_URL": url})` in the compute server's Region; a 2xx StatusCode (202) means accepted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import SecretStr

from prefect_faasr.triggers.auth import LambdaAuth
from prefect_faasr.triggers.errors import TriggerError, scrub
from prefect_faasr.triggers.findings import Finding
from prefect_faasr.triggers.receipt import TriggerReceipt

_NOT_FOUND = "ResourceNotFoundException"
_CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "ExpiredTokenException",
        "InvalidClientTokenId",
    }
)


def lambda_client(auth: LambdaAuth, region: str | None) -> Any:
    """A boto3 Lambda client for the server's Region, with timeouts so that a trigger cannot hang."""
    import boto3
    from botocore.config import Config

    def value(secret: SecretStr | None) -> str | None:
        return secret.get_secret_value() if secret is not None else None

    session = boto3.session.Session(
        aws_access_key_id=value(auth.access_key_id),
        aws_secret_access_key=value(auth.secret_access_key),
        aws_session_token=value(auth.session_token),
        region_name=region or None,
    )
    config = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 2, "mode": "standard"})
    return session.client("lambda", endpoint_url=auth.endpoint_url or None, config=config)


def invoke(
    client: Any,
    *,
    function_name: str,
    overwritten: Mapping[str, Any],
    payload_url: str,
    source: str = "the AWS credentials",
    secrets: Iterable[SecretStr | None] = (),
) -> TriggerReceipt:
    """Event-invoke the function; raise `TriggerError` saying what to check unless Lambda answers 2xx."""
    payload = {"OVERWRITTEN": json.dumps(dict(overwritten)), "PAYLOAD_URL": payload_url}
    region = client.meta.region_name
    try:
        response = client.invoke(
            FunctionName=function_name, InvocationType="Event", Payload=json.dumps(payload).encode()
        )
    except Exception as exc:
        problem = _problem(exc, function_name, region, source)
        raise TriggerError(scrub(f"Lambda did not start {function_name}: {problem}", secrets)) from None
    status = int(response.get("StatusCode", 0))
    if not 200 <= status < 300:
        detail = response.get("FunctionError") or "no detail"
        raise TriggerError(f"Lambda did not start {function_name}: StatusCode {status} ({detail})")
    request_id = response.get("ResponseMetadata", {}).get("RequestId")
    return TriggerReceipt("Lambda", function_name, f"lambda:{region}:{function_name}", status, request_id)


def check_function(
    client: Any,
    function_name: str,
    *,
    source: str = "the AWS credentials",
    secrets: Iterable[SecretStr | None] = (),
) -> Finding | None:
    """A problem reading the function with these credentials (missing, access denied, ...), or None."""
    from botocore.exceptions import ClientError

    try:
        client.get_function(FunctionName=function_name)
    except Exception as exc:
        text = scrub(_problem(exc, function_name, client.meta.region_name, source), secrets)
        missing = isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") == _NOT_FOUND
        return Finding(text, server_wide=not missing)
    return None


def _problem(exc: Exception, function_name: str, region: str, source: str) -> str:
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "?"), error.get("Message", "")
        if code == _NOT_FOUND:
            return (
                f"no Lambda function {function_name} in region {region} ({code}): check Region and that "
                f"the workflow is registered (FaaSr creates one function {function_name})"
            )
        if code in ("AccessDeniedException", "AccessDenied"):
            return (
                f"{source} may not use {function_name} ({code}: {message}): the identity needs "
                f"lambda:InvokeFunction and lambda:GetFunction on it"
            )
        if code in _CREDENTIAL_CODES:
            return f"AWS rejected {source} ({code}): check the access key id and secret key"
        return f"{code}: {message[:300]}"
    if isinstance(exc, NoCredentialsError):
        return f"no AWS credentials: {source} has no keys and boto3 found none in the environment"
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
        return f"cannot reach the Lambda endpoint for region {region}: {exc}"
    if isinstance(exc, BotoCoreError):
        return str(exc)
    raise exc
