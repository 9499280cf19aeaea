"""S3-compatible storage provider presets.

Every provider is reached through the S3 API (boto3 for cpv's own calls, DVC's s3
remote for the bytes); a preset only fills in the endpoint, the region and whether
checksums must be limited to "when required". Provider logic lives here; the values
are stored in the existing :class:`~cpv.settings.config.StorageSettings` fields.
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict

from cpv.domain.errors import UsageError
from cpv.settings.config import ProviderName, StorageSettings

#: Other names people use for the same providers.
ALIASES: dict[str, ProviderName] = {
    "s3": "aws",
    "amazon": "aws",
    "do": "digitalocean",
    "spaces": "digitalocean",
    "cloudflare": "r2",
    "backblaze": "b2",
}

DIGITALOCEAN_REGIONS = ("nyc3", "ams3", "sgp1", "sfo2", "sfo3", "fra1")
AWS_FALLBACK_REGION = "us-east-1"

_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_REGION_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,40}")
_B2_REGION_RE = re.compile(r"[a-z]{2}-[a-z]+-\d{3}")
_R2_ACCOUNT_RE = re.compile(r"[0-9a-f]{32}")


class Preset(BaseModel):
    """What a provider needs and what cpv fills in for it."""

    model_config = ConfigDict(frozen=True)

    name: ProviderName
    title: str
    #: ``{region}`` / ``{account_id}`` placeholders; None when boto3's default applies (AWS).
    endpoint_template: str | None = None
    needs_region: bool = False
    needs_account_id: bool = False
    needs_endpoint: bool = False
    default_region: str | None = None
    fixed_region: str | None = None
    regions: tuple[str, ...] = ()
    #: Recent boto3 sends CRC checksums by default; these servers reject (or mishandle) them.
    checksum_when_required: bool = False
    region_hint: str = ""


PRESETS: dict[ProviderName, Preset] = {
    "local": Preset(name="local", title="Local folder (the embedded default, one machine)"),
    "aws": Preset(
        name="aws",
        title="Amazon S3",
        needs_region=True,
        region_hint="e.g. us-east-1, eu-west-1 (default: your AWS default region)",
    ),
    "r2": Preset(
        name="r2",
        title="Cloudflare R2",
        endpoint_template="https://{account_id}.r2.cloudflarestorage.com",
        needs_account_id=True,
        fixed_region="auto",
        checksum_when_required=True,
    ),
    "b2": Preset(
        name="b2",
        title="Backblaze B2",
        endpoint_template="https://s3.{region}.backblazeb2.com",
        needs_region=True,
        default_region="us-west-004",
        checksum_when_required=True,
        region_hint="the part of your bucket's S3 endpoint after 's3.', e.g. us-west-004, eu-central-003",
    ),
    "wasabi": Preset(
        name="wasabi",
        title="Wasabi",
        endpoint_template="https://s3.{region}.wasabisys.com",
        needs_region=True,
        default_region="us-east-1",
        checksum_when_required=True,
        region_hint="e.g. us-east-1, eu-central-1, ap-northeast-1",
    ),
    "digitalocean": Preset(
        name="digitalocean",
        title="DigitalOcean Spaces",
        endpoint_template="https://{region}.digitaloceanspaces.com",
        needs_region=True,
        default_region="nyc3",
        regions=DIGITALOCEAN_REGIONS,
        checksum_when_required=True,
        region_hint="one of " + ", ".join(DIGITALOCEAN_REGIONS),
    ),
    "minio": Preset(
        name="minio",
        title="MinIO",
        needs_endpoint=True,
        default_region="us-east-1",
        checksum_when_required=True,
    ),
    "custom": Preset(
        name="custom",
        title="Other S3-compatible service",
        needs_endpoint=True,
        default_region="us-east-1",
        checksum_when_required=True,
    ),
}


def provider_names() -> list[str]:
    """Canonical names followed by the accepted aliases (for ``--provider`` choices)."""
    return list(PRESETS) + list(ALIASES)


def normalize_provider(name: str) -> ProviderName:
    """A canonical provider name from a name or alias, case-insensitive."""
    key = name.strip().lower()
    if key in PRESETS:
        return key  # type: ignore[return-value]
    if key in ALIASES:
        return ALIASES[key]
    raise UsageError(
        f"unknown storage provider {name!r}",
        hint="Use one of: " + ", ".join(provider_names()) + ".",
    )


def preset(name: str) -> Preset:
    return PRESETS[normalize_provider(name)]


def validate_bucket(bucket: str) -> str:
    """S3 bucket naming rules (3–63 chars, lowercase letters, digits, '-', '.')."""
    if (
        not _BUCKET_RE.fullmatch(bucket)
        or ".." in bucket
        or re.fullmatch(r"\d+\.\d+\.\d+\.\d+", bucket)
    ):
        raise UsageError(
            f"invalid bucket name {bucket!r}",
            hint="A bucket name has 3-63 lowercase letters, digits, '-' or '.', "
            "starting and ending with a letter or digit.",
        )
    return bucket


def validate_endpoint(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise UsageError(
            f"invalid endpoint URL {url!r}",
            hint="Give the S3 endpoint as http(s)://host[:port], e.g. https://minio.example.com:9000.",
        )
    try:
        parsed.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise UsageError(f"invalid port in endpoint URL {url!r}") from exc
    return url.rstrip("/")


def aws_default_region(profile: str | None = None) -> str:
    """The region boto3 would pick (env, then the profile's config), else us-east-1."""
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if os.environ.get(var):
            return os.environ[var]
    from cpv._s3.client import profile_region

    return profile_region(profile) or AWS_FALLBACK_REGION


def _check_region(p: Preset, region: str) -> str:
    if p.regions and region not in p.regions:
        raise UsageError(
            f"unknown {p.title} region {region!r}",
            hint=f"Use one of {', '.join(p.regions)}, or --provider custom --endpoint-url URL.",
        )
    if p.name == "b2" and not _B2_REGION_RE.fullmatch(region):
        raise UsageError(
            f"invalid Backblaze B2 region {region!r}",
            hint="Use the region from the bucket's S3 endpoint, e.g. us-west-004 "
            "(from s3.us-west-004.backblazeb2.com).",
        )
    if not _REGION_RE.fullmatch(region):
        raise UsageError(f"invalid region {region!r}", hint=p.region_hint or None)
    return region


def _check_account_id(p: Preset, account_id: str | None) -> str | None:
    """The normalised account id a preset needs (Cloudflare R2), else None."""
    if not p.needs_account_id:
        return None
    if not account_id:
        raise UsageError(
            f"{p.title} needs your account id",
            hint="Pass --account-id (32 hex characters, shown in the Cloudflare dashboard under R2).",
        )
    account_id = account_id.strip().lower()
    if not _R2_ACCOUNT_RE.fullmatch(account_id):
        raise UsageError(
            f"invalid Cloudflare account id {account_id!r}",
            hint="The account id is 32 hexadecimal characters.",
        )
    return account_id


def resolve_storage(
    *,
    provider: str,
    bucket: str | None,
    region: str | None = None,
    account_id: str | None = None,
    endpoint_url: str | None = None,
    profile: str | None = None,
) -> StorageSettings:
    """Validated storage settings for ``provider`` with the preset's endpoint and region filled in.

    Raises:
        UsageError: a missing or malformed value, naming the flag that fixes it.
    """
    p = preset(provider)
    if p.name == "local":
        return StorageSettings(provider="local")
    if not bucket:
        raise UsageError(f"{p.title} needs a bucket", hint="Pass --bucket NAME.")
    validate_bucket(bucket)

    account_id = _check_account_id(p, account_id)
    if p.fixed_region:
        if region and region != p.fixed_region:
            raise UsageError(f"{p.title} uses region {p.fixed_region!r}, not {region!r}")
        region = p.fixed_region
    elif p.name == "aws":
        region = _check_region(p, region or aws_default_region(profile))
    elif p.needs_region or region or p.default_region:
        region = _check_region(p, region or p.default_region or "")

    if endpoint_url:
        endpoint_url = validate_endpoint(endpoint_url)
    elif p.needs_endpoint:
        raise UsageError(
            f"{p.title} needs an endpoint URL", hint="Pass --endpoint-url http(s)://host[:port]."
        )
    elif p.endpoint_template:
        endpoint_url = p.endpoint_template.format(region=region, account_id=account_id)

    return StorageSettings(
        provider=p.name,
        bucket=bucket,
        region=region,
        endpoint_url=endpoint_url,
        account_id=account_id,
        profile=profile or None,
        checksum_when_required=p.checksum_when_required,
    )


def dvc_remote_options(storage: StorageSettings) -> dict[str, str]:
    """The NON-secret options ``cpv init`` writes into ``.dvc/config`` (committed, team-wide).

    Credentials and the AWS profile name are per person: cpv's own S3 client gets them at
    run time (:func:`cpv.settings.credentials.resolve_credentials`); plain ``dvc`` reads the user's
    AWS environment or ``dvc remote modify --local``.
    """
    if storage.provider == "local":
        return {}
    options: dict[str, str] = {}
    if storage.endpoint_url:
        options["endpointurl"] = storage.endpoint_url
    if storage.region:
        options["region"] = storage.region
    return options
