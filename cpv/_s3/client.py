"""The S3 adapter's clients and errors (with :mod:`cpv._s3.io`, the only code importing
botocore and s3transfer; clients come from botocore's own session, so boto3 is not imported).

It makes S3 clients for the configured storage, answers questions about AWS profiles, and
translates botocore failures (also when DVC, s3fs or aiobotocore raised them deeper down)
into :mod:`cpv.domain.errors` types by exception type and error code — never by message text.
Messages are cpv's own: botocore's may quote request details.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cpv.domain.errors import (
    BucketNotFoundError,
    ProfileNotFoundError,
    StorageAccessDeniedError,
    StorageCredentialsError,
    StorageError,
    StorageUnreachableError,
)

if TYPE_CHECKING:
    from cpv.settings.config import StorageSettings
    from cpv.settings.credentials import ResolvedCredentials

#: Error codes meaning "these keys are not valid here" (as opposed to "valid, but not allowed").
BAD_KEYS = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidToken",
        "ExpiredToken",
        "AuthorizationHeaderMalformed",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
    }
)
_DENIED = frozenset({"AccessDenied", "403", "Forbidden", "AllAccessDisabled"})
_NO_BUCKET = frozenset({"NoSuchBucket"})


def s3_client(
    storage: StorageSettings,
    creds: ResolvedCredentials,
    *,
    timeout: float = 10.0,
    pool: int = 10,
    attempts: int = 2,
) -> Any:
    """A boto3 S3 client for ``storage`` with ``creds``; checksum mode from the preset.

    ``pool`` connections are kept open (one per concurrent transfer); ``attempts`` bounds
    botocore's retries (with backoff) of throttling, 5xx answers and cut connections. A
    connection that cannot be made at all (refused, unknown host, no answer within
    ``min(timeout, 10)`` s) is tried twice, not ``attempts`` + 1 times: a wrong or down
    endpoint is reported in about a second, not after ~20 s of backoff.

    Raises:
        ProfileNotFoundError: ``creds`` name an AWS profile that is not defined.
    """
    client = _client(
        creds.boto_kwargs(),
        endpoint=storage.endpoint_url or None,
        region=storage.region or None,
        path_style=storage.provider in ("minio", "custom"),
        checksum_when_required=storage.checksum_when_required,
        tuning={
            "connect_timeout": min(timeout, 10.0),
            "read_timeout": timeout,
            "retries": {"max_attempts": attempts, "mode": "standard"},
            "max_pool_connections": pool,
        },
    )
    _fail_fast_on_connect(client, total_attempts=attempts + 1)
    return client


def _fail_fast_on_connect(client: Any, *, total_attempts: int) -> None:
    """Replace the client's standard retry handler by one that gives up on a connection
    that cannot be made after its second try, and decides every other retry as before
    (botocore's own handler, built the same way, with the same attempt budget)."""
    from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError
    from botocore.retries import standard

    event, unique_id = "needs-retry.s3", "retry-config-s3"
    client.meta.events.unregister(event, unique_id=unique_id)
    handler = standard.register_retry_handler(client, max_attempts=total_attempts)
    client.meta.events.unregister(event, unique_id=unique_id)

    def needs_retry(**kwargs: Any) -> float | None:
        cannot_connect = (EndpointConnectionError, ConnectTimeoutError)
        if isinstance(kwargs.get("caught_exception"), cannot_connect):
            if kwargs.get("attempts", 1) >= 2:
                return None
        delay: float | None = handler.needs_retry(**kwargs)
        return delay

    client.meta.events.register(event, needs_retry, unique_id=unique_id)


def _client(
    session_kwargs: dict[str, str],
    *,
    endpoint: str | None,
    region: str | None,
    path_style: bool,
    checksum_when_required: bool = False,
    tuning: dict[str, Any] | None = None,
) -> Any:
    """``tuning``: botocore ``Config`` options (timeouts, retries, pool) over the defaults."""
    # botocore's own session, not boto3's: the same client without importing boto3 and its
    # transfer manager (~0.15 s of every command's start); uploads use s3transfer directly.
    import botocore.session
    from botocore.config import Config
    from botocore.exceptions import ProfileNotFound

    options: dict[str, Any] = {
        "connect_timeout": 10.0,
        "read_timeout": 10.0,
        "retries": {"max_attempts": 2, "mode": "standard"},
        "s3": {"addressing_style": "path" if path_style else "auto"},
        **(tuning or {}),
    }
    if checksum_when_required:
        options["request_checksum_calculation"] = "when_required"
        options["response_checksum_validation"] = "when_required"
    keys = dict(session_kwargs)
    try:
        session = botocore.session.Session(profile=keys.pop("profile_name", None))
        session.register_component("data_loader", _loader())
        # This client's answers keep their timestamps as text: cpv reads none, and parsing
        # each listed key's LastModified with dateutil was most of a large listing's CPU.
        # Only this client: a credential provider's own client (STS) is made with the
        # session's default parsers, restored right after.
        default_parsers = session.get_component("response_parser_factory")
        session.register_component("response_parser_factory", _text_timestamps())
        try:
            return session.create_client(
                "s3", endpoint_url=endpoint, region_name=region, config=Config(**options), **keys
            )
        finally:
            session.register_component("response_parser_factory", default_parsers)
    except ProfileNotFound as exc:
        raise _profile_error(exc) from None


def _text_timestamps() -> Any:
    from botocore.parsers import ResponseParserFactory

    factory = ResponseParserFactory()
    factory.set_parser_defaults(timestamp_parser=str)
    return factory


@functools.cache
def _loader() -> Any:
    """One botocore data loader for the process: S3's service model (~0.25 s of JSON to parse)
    is read once, not once per client. Sessions stay fresh per client, so credentials are
    still resolved for each one."""
    import botocore.loaders

    return botocore.loaders.create_loader()


def describe_endpoint(storage: StorageSettings) -> str:
    return storage.endpoint_url or f"AWS S3 ({storage.region or 'default region'})"


# --- profiles and the default chain -------------------------------------------------------
def available_profiles() -> list[str]:
    """AWS profiles defined in the shared credentials and config files."""
    import botocore.session

    try:
        return sorted(botocore.session.Session().available_profiles)
    except Exception:  # a broken ~/.aws/config lists nothing rather than failing
        return []


def profile_exists(profile: str) -> bool:
    return profile in available_profiles()


def has_default_credentials() -> bool:
    """Whether boto3's default chain (env, files, instance role …) finds any credentials."""
    import botocore.session

    try:
        return botocore.session.Session().get_credentials() is not None
    except Exception:
        return False


def profile_region(profile: str | None = None) -> str | None:
    """The region configured for ``profile`` (or the default one), None when there is none."""
    import botocore.session

    try:
        region = botocore.session.Session(profile=profile).get_config_variable("region")
    except Exception:  # a broken ~/.aws/config must not stop configuration
        return None
    return str(region) if region else None


# --- translating failures ----------------------------------------------------------------
def botocore_cause(exc: BaseException) -> BaseException | None:
    """The first botocore exception in ``exc``'s ``__cause__``/``__context__`` chain."""
    from botocore.exceptions import BotoCoreError, ClientError

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, (BotoCoreError, ClientError)):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _profile_error(exc: BaseException) -> ProfileNotFoundError:
    profile = getattr(exc, "kwargs", {}).get("profile")
    return ProfileNotFoundError(f"AWS profile {profile!r} is not defined", profile=profile)


def translate(
    exc: BaseException,
    *,
    bucket: str | None,
    endpoint: str,
    source: str | None = None,
    diagnose: Callable[[], None] | None = None,
) -> StorageError | None:
    """The cpv error for a botocore failure anywhere in ``exc``'s chain, None when there is none.

    ``source`` says where the credentials came from. A HEAD request refused with a bare
    403 says nothing about why; ``diagnose`` (a call that lists the bucket) is then made
    once to learn the provider's error code (bad key, bad secret, or no permission).
    """
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
        ProfileNotFound,
        ReadTimeoutError,
    )

    cause = botocore_cause(exc)
    if cause is None:
        return None
    where = {"bucket": bucket, "endpoint": endpoint}
    if isinstance(cause, ProfileNotFound):
        return _profile_error(cause)
    if isinstance(cause, (NoCredentialsError, PartialCredentialsError)):
        return StorageCredentialsError(
            "no storage credentials found",
            **where,
            source=source,
            hint="Run `cpv configure` to store keys or pick an AWS profile, or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.",
        )
    if isinstance(
        cause,
        (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError),
    ):
        return StorageUnreachableError(f"cannot reach the storage endpoint {endpoint}", **where)
    if not isinstance(cause, ClientError):
        return StorageError(
            f"storage request failed at {endpoint}: {type(cause).__name__}", **where
        )
    return _client_error(cause, bucket=bucket, endpoint=endpoint, source=source, diagnose=diagnose)


def _client_error(
    cause: Any,
    *,
    bucket: str | None,
    endpoint: str,
    source: str | None,
    diagnose: Callable[[], None] | None,
) -> StorageError:
    """A refusal the service answered with an error code (``botocore.ClientError``)."""
    where = {"bucket": bucket, "endpoint": endpoint}
    keys = f"the credentials from {source}" if source else "the credentials"
    code = str(cause.response.get("Error", {}).get("Code", ""))
    status = cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in _NO_BUCKET or (cause.operation_name == "HeadBucket" and status == 404):
        return BucketNotFoundError(f"bucket {bucket!r} does not exist at {endpoint}", **where)
    if code in BAD_KEYS:
        return StorageCredentialsError(
            f"the storage rejected {keys} ({code})", **where, code=code, source=source
        )
    if code not in _DENIED and status != 403:
        return StorageError(f"storage request failed at {endpoint}: {code or status}", **where)
    if diagnose is not None and code in ("403", "Forbidden", ""):
        try:
            diagnose()
        except Exception as probe_exc:
            found = (
                probe_exc
                if isinstance(probe_exc, StorageError)
                else translate(probe_exc, bucket=bucket, endpoint=endpoint, source=source)
            )
            if found is not None and not isinstance(found, StorageAccessDeniedError):
                return found
    return StorageAccessDeniedError(f"access denied to bucket {bucket!r} with {keys}", **where)


def storage_error(
    exc: BaseException, storage: StorageSettings, creds: ResolvedCredentials, client: Any = None
) -> StorageError:
    """A one-line, secret-free error for a failed S3 call on the configured storage."""
    diagnose = None
    if client is not None and storage.bucket:
        bucket = storage.bucket

        def diagnose() -> None:
            client.list_objects_v2(Bucket=bucket, MaxKeys=1)

    found = translate(
        exc,
        bucket=storage.bucket,
        endpoint=describe_endpoint(storage),
        source=creds.detail,
        diagnose=diagnose,
    )
    if found is not None:
        return found
    return StorageError(
        f"storage request failed at {describe_endpoint(storage)}: {type(exc).__name__}",
        bucket=storage.bucket,
        endpoint=describe_endpoint(storage),
    )


def check_bucket(
    storage: StorageSettings, creds: ResolvedCredentials, *, timeout: float = 10.0
) -> None:
    """One HEAD request: does ``storage.bucket`` exist, and may ``creds`` see it?

    Raises:
        BucketNotFoundError, StorageAccessDeniedError, StorageCredentialsError (keys rejected,
        or none found), StorageUnreachableError, ProfileNotFoundError, StorageError.
    """
    client = s3_client(storage, creds, timeout=timeout)
    try:
        client.head_bucket(Bucket=storage.bucket)
    except Exception as exc:
        raise storage_error(exc, storage, creds, client) from None
