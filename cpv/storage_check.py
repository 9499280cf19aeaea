"""cpv's own boto3 calls: a client for the configured storage and a write/read/delete probe.

Errors become one-line :class:`~cpv.errors.StorageError` messages written by cpv (never
botocore's text, which may quote request details) with a hint of what to fix.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel

from cpv.config import StorageSettings, UserConfig
from cpv.credentials import ResolvedCredentials, applied_env, boto_env, resolve_credentials
from cpv.errors import StorageError

PROBE_PREFIX = ".cpv/probe"

_BAD_KEYS = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "AuthorizationHeaderMalformed",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
}


class ProbeResult(BaseModel):
    bucket: str
    endpoint: str
    key: str
    bytes: int


def s3_client(
    storage: StorageSettings, creds: ResolvedCredentials, *, timeout: float = 10.0
) -> Any:
    """A boto3 S3 client for ``storage`` with ``creds``; checksum mode from the preset."""
    import boto3
    from botocore.config import Config

    options: dict[str, Any] = {
        "connect_timeout": timeout,
        "read_timeout": timeout,
        "retries": {"max_attempts": 2, "mode": "standard"},
        "s3": {"addressing_style": "path" if storage.provider in ("minio", "custom") else "auto"},
    }
    if storage.checksum_when_required:
        options["request_checksum_calculation"] = "when_required"
        options["response_checksum_validation"] = "when_required"
    # botocore.exceptions.ProfileNotFound is raised here for an unknown profile.
    try:
        session = boto3.session.Session(**creds.boto_kwargs())
    except Exception as exc:
        raise StorageError(
            f"cannot use credentials from {creds.detail}: {type(exc).__name__}",
            hint="Check the profile name in ~/.aws/credentials or re-run `cpv configure`.",
        ) from None
    return session.client(
        "s3",
        endpoint_url=storage.endpoint_url or None,
        region_name=storage.region or None,
        config=Config(**options),
    )


def describe_endpoint(storage: StorageSettings) -> str:
    return storage.endpoint_url or f"AWS S3 ({storage.region or 'default region'})"


def storage_error(
    exc: BaseException, storage: StorageSettings, creds: ResolvedCredentials
) -> StorageError:
    """A one-line, secret-free error for a failed S3 call."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    where = describe_endpoint(storage)
    if isinstance(exc, NoCredentialsError):
        return StorageError(
            "no storage credentials found",
            hint="Run `cpv configure` to store keys or pick an AWS profile, or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.",
        )
    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError)):
        return StorageError(
            f"cannot reach the storage endpoint {where}",
            hint="Check --endpoint-url / --region and your network; `cpv doctor` repeats the check.",
        )
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("NoSuchBucket", "404", "NotFound") or (status == 404 and code != "NoSuchKey"):
            return StorageError(
                f"bucket {storage.bucket!r} does not exist at {where}",
                hint="Create the bucket in your provider's console, or fix --bucket / --region.",
            )
        if code in _BAD_KEYS:
            return StorageError(
                f"the storage rejected the credentials from {creds.detail} ({code})",
                hint="Check the access key id and secret (`cpv configure`), or the profile.",
            )
        if code in ("AccessDenied", "403", "Forbidden") or status == 403:
            return StorageError(
                f"access denied to bucket {storage.bucket!r} with credentials from {creds.detail}",
                hint="The keys are wrong, or lack read/write/delete permission on this bucket.",
            )
        return StorageError(f"storage request failed at {where}: {code or status}")
    return StorageError(f"storage request failed at {where}: {type(exc).__name__}")


def probe(
    cfg: UserConfig,
    *,
    creds: ResolvedCredentials | None = None,
    prefix: str = "",
    timeout: float = 10.0,
) -> ProbeResult:
    """Write, read back and delete one small object under ``<prefix>/.cpv/probe/``.

    Raises:
        StorageError: the bucket is missing, the keys are rejected, the endpoint is
            unreachable, or the bytes read back differ.
    """
    storage = cfg.storage
    if not storage.bucket:
        raise StorageError("no bucket configured", hint="Run `cpv configure`.")
    creds = creds or resolve_credentials(cfg)
    key = "/".join(p for p in (prefix.strip("/"), PROBE_PREFIX, uuid.uuid4().hex) if p)
    body = f"cpv probe {uuid.uuid4().hex}\n".encode()
    with applied_env(boto_env(cfg)):
        client = s3_client(storage, creds, timeout=timeout)
        try:
            client.head_bucket(Bucket=storage.bucket)
            client.put_object(Bucket=storage.bucket, Key=key, Body=body)
            try:
                got = client.get_object(Bucket=storage.bucket, Key=key)["Body"].read()
            finally:
                client.delete_object(Bucket=storage.bucket, Key=key)
        except StorageError:
            raise
        except Exception as exc:
            raise storage_error(exc, storage, creds) from None
    if got != body:
        raise StorageError(
            f"object read back from bucket {storage.bucket!r} differs from what was written",
            hint="The endpoint or a proxy alters objects; check --provider and --endpoint-url.",
        )
    return ProbeResult(
        bucket=storage.bucket, endpoint=describe_endpoint(storage), key=key, bytes=len(body)
    )
