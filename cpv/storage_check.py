"""The write/read/delete probe of the configured storage (``cpv doctor``, ``cpv configure``).

The S3 client and the translation of its failures live in :mod:`cpv._s3` (the only module
importing boto3); errors are one-line :mod:`cpv.errors` storage errors written by cpv, with a
hint of what to fix.
"""

from __future__ import annotations

import uuid

from pydantic import BaseModel

from cpv._s3 import describe_endpoint, s3_client, storage_error
from cpv.config import UserConfig
from cpv.credentials import ResolvedCredentials, applied_env, boto_env, resolve_credentials
from cpv.errors import StorageError

__all__ = [
    "PROBE_PREFIX",
    "ProbeResult",
    "describe_endpoint",
    "probe",
    "s3_client",
    "storage_error",
]

PROBE_PREFIX = ".cpv/probe"


class ProbeResult(BaseModel):
    bucket: str
    endpoint: str
    key: str
    bytes: int


def probe(
    cfg: UserConfig,
    *,
    creds: ResolvedCredentials | None = None,
    prefix: str = "",
    timeout: float = 10.0,
) -> ProbeResult:
    """Write, read back and delete one small object under ``<prefix>/.cpv/probe/``.

    Raises:
        StorageError: the bucket is missing (:class:`~cpv.errors.BucketNotFoundError`), the
            keys are rejected (:class:`~cpv.errors.StorageCredentialsError`), the endpoint is
            unreachable (:class:`~cpv.errors.StorageUnreachableError`), or the bytes read
            back differ.
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
            raise storage_error(exc, storage, creds, client) from None
    if got != body:
        raise StorageError(
            f"object read back from bucket {storage.bucket!r} differs from what was written",
            bucket=storage.bucket,
            endpoint=describe_endpoint(storage),
            hint="The endpoint or a proxy alters objects; check --provider and --endpoint-url.",
        )
    return ProbeResult(
        bucket=storage.bucket, endpoint=describe_endpoint(storage), key=key, bytes=len(body)
    )
