"""Provider presets: endpoint, region and checksum mode of each, aliases and validation."""

from __future__ import annotations

from typing import get_args

import pytest

from cpv.domain.errors import UsageError
from cpv.settings import providers
from cpv.settings.config import ProviderName, StorageSettings

ACCOUNT = "0123456789abcdef0123456789abcdef"


def test_every_provider_name_has_a_preset() -> None:
    assert set(providers.PRESETS) == set(get_args(ProviderName))


@pytest.mark.parametrize(
    ("provider", "kwargs", "endpoint", "region", "checksum"),
    [
        ("aws", {"region": "eu-west-1"}, None, "eu-west-1", False),
        (
            "r2",
            {"account_id": ACCOUNT},
            f"https://{ACCOUNT}.r2.cloudflarestorage.com",
            "auto",
            True,
        ),
        (
            "b2",
            {"region": "eu-central-003"},
            "https://s3.eu-central-003.backblazeb2.com",
            "eu-central-003",
            True,
        ),
        (
            "wasabi",
            {"region": "eu-central-1"},
            "https://s3.eu-central-1.wasabisys.com",
            "eu-central-1",
            True,
        ),
        ("digitalocean", {"region": "ams3"}, "https://ams3.digitaloceanspaces.com", "ams3", True),
        (
            "minio",
            {"endpoint_url": "http://minio.local:9000/"},
            "http://minio.local:9000",
            "us-east-1",
            True,
        ),
        (
            "custom",
            {"endpoint_url": "https://s3.example.com"},
            "https://s3.example.com",
            "us-east-1",
            True,
        ),
    ],
)
def test_preset_endpoint_region_and_checksum(
    provider: str, kwargs: dict[str, str], endpoint: str | None, region: str, checksum: bool
) -> None:
    st = providers.resolve_storage(provider=provider, bucket="my-bucket", **kwargs)
    assert st.provider == provider
    assert st.endpoint_url == endpoint
    assert st.region == region
    assert st.checksum_when_required is checksum
    assert st.root_url() == "s3://my-bucket"


def test_aws_region_defaults_to_the_aws_default_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    monkeypatch.delenv("AWS_REGION", raising=False)
    assert providers.resolve_storage(provider="aws", bucket="b-1").region == "ap-south-1"
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    # Nothing in the environment or ~/.aws/config (isolated): boto3's own fallback.
    assert providers.resolve_storage(provider="aws", bucket="b-1").region == "us-east-1"


def test_aws_region_from_profile_config(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "aws-config"
    conf.write_text("[profile ml]\nregion = eu-north-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(conf))
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    st = providers.resolve_storage(provider="aws", bucket="b-1", profile="ml")
    assert (st.region, st.profile) == ("eu-north-1", "ml")


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [("s3", "aws"), ("do", "digitalocean"), ("spaces", "digitalocean"), ("cloudflare", "r2"),
     ("backblaze", "b2"), ("AWS", "aws"), (" Wasabi ", "wasabi")],
)  # fmt: skip
def test_aliases(alias: str, canonical: str) -> None:
    assert providers.normalize_provider(alias) == canonical


def test_an_alias_resolves_to_the_canonical_preset() -> None:
    st = providers.resolve_storage(provider="spaces", bucket="b-1", region="fra1")
    assert (st.provider, st.endpoint_url) == ("digitalocean", "https://fra1.digitaloceanspaces.com")


def test_unknown_provider_lists_the_choices() -> None:
    with pytest.raises(UsageError, match="unknown storage provider 'gcs'") as exc:
        providers.normalize_provider("gcs")
    assert "wasabi" in exc.value.hint and "cloudflare" in exc.value.hint


@pytest.mark.parametrize(
    ("provider", "kwargs", "match"),
    [
        ("aws", {"bucket": None}, "needs a bucket"),
        ("aws", {"bucket": "Bad_Bucket"}, "invalid bucket name"),
        ("aws", {"bucket": "ab"}, "invalid bucket name"),
        ("aws", {"bucket": "a..b"}, "invalid bucket name"),
        ("r2", {"bucket": "b-1"}, "needs your account id"),
        ("r2", {"bucket": "b-1", "account_id": "xyz"}, "invalid Cloudflare account id"),
        (
            "r2",
            {"bucket": "b-1", "account_id": ACCOUNT, "region": "us-east-1"},
            "uses region 'auto'",
        ),
        ("digitalocean", {"bucket": "b-1", "region": "lon9"}, "unknown DigitalOcean Spaces region"),
        ("b2", {"bucket": "b-1", "region": "us-west"}, "invalid Backblaze B2 region"),
        ("minio", {"bucket": "b-1"}, "needs an endpoint URL"),
        ("custom", {"bucket": "b-1", "endpoint_url": "minio:9000"}, "invalid endpoint URL"),
        ("custom", {"bucket": "b-1", "endpoint_url": "http://h:99999"}, "invalid port"),
    ],
)
def test_invalid_values_are_rejected_with_a_clear_message(
    provider: str, kwargs: dict[str, str | None], match: str
) -> None:
    with pytest.raises(UsageError, match=match):
        providers.resolve_storage(provider=provider, **kwargs)  # type: ignore[arg-type]


def test_digitalocean_offers_its_regions() -> None:
    for region in ("nyc3", "ams3", "sgp1", "sfo2", "sfo3", "fra1"):
        st = providers.resolve_storage(provider="digitalocean", bucket="b-1", region=region)
        assert st.endpoint_url == f"https://{region}.digitaloceanspaces.com"


def test_explicit_endpoint_overrides_a_preset() -> None:
    st = providers.resolve_storage(
        provider="r2", bucket="b-1", account_id=ACCOUNT,
        endpoint_url=f"https://{ACCOUNT}.eu.r2.cloudflarestorage.com",
    )  # fmt: skip
    assert st.endpoint_url == f"https://{ACCOUNT}.eu.r2.cloudflarestorage.com"
    assert st.checksum_when_required is True


def test_local_provider_needs_nothing() -> None:
    st = providers.resolve_storage(provider="local", bucket=None)
    assert st == StorageSettings()
    assert providers.dvc_remote_options(st) == {}


def test_dvc_remote_options_hold_no_secret_and_no_profile() -> None:
    st = providers.resolve_storage(
        provider="wasabi", bucket="b-1", region="us-east-2", profile="me"
    )
    assert providers.dvc_remote_options(st) == {
        "endpointurl": "https://s3.us-east-2.wasabisys.com",
        "region": "us-east-2",
    }
