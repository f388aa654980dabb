"""Per-source auth against a real SMART Backend Services token server (the sandbox server's own)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.config import SourceAuth, SourceSettings
from app.sources import FhirClient, SourceAuthError, auth_for
from sandbox import Sandbox


def write_key(directory: Path, name: str) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private, public = directory / f"{name}.pem", directory / f"{name}.pub.pem"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private, public


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("keys")
    private, public = write_key(directory, "neosafe")
    stranger, _ = write_key(directory, "stranger")
    return {"private": private, "public": public, "stranger": stranger}


@pytest.fixture(scope="module")
def secured(keys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A police-gp sandbox server that accepts SMART Backend Services tokens (and a static one, for seeding)."""
    smart = {
        "server_auth": {
            "types": ["smart", "bearer"],
            "tokens": ["sandbox-seed-only"],
            "smart_clients": [
                {"client_id": "neosafe", "public_key_path": str(keys["public"]), "scopes": "system/*.read"}
            ],
        }
    }
    with Sandbox(tmp_path_factory.mktemp("secured"), kinds=("police-gp",), server_settings={"police-gp": smart}) as sb:
        yield sb.urls["police-gp"]


def smart_source(url: str, key: Path) -> SourceSettings:
    auth = SourceAuth(type="smart-backend", client_id="neosafe", private_key_file=key, key_id="neosafe-1")
    return SourceSettings(name="police-gp", base_url=url, auth=auth)


async def test_smart_backend_services_token_is_fetched_once_and_reused(secured, keys):
    source = smart_source(secured, keys["private"])
    auth = auth_for(source)

    async with FhirClient(source, auth=auth) as client:
        first = await client.search("Patient", {"identifier": "https://fhir.nhs.uk/Id/nhs-number|9990102007"})
        await client.search("Flag", {"subject": f"Patient/{first.resources[0].id}"})
    async with FhirClient(source, auth=auth) as client:
        await client.search("Communication", {"subject": f"Patient/{first.resources[0].id}"})

    assert len(first.resources) == 1
    assert auth.tokens_fetched == 1
    assert auth.token_url.endswith("/auth/token")  # found through .well-known/smart-configuration


async def test_a_key_the_server_does_not_know_is_an_auth_failure(secured, keys):
    async with FhirClient(smart_source(secured, keys["stranger"])) as client:
        with pytest.raises(SourceAuthError, match="token request refused"):
            await client.search("Flag", {})


async def test_no_credentials_is_an_auth_failure(secured):
    async with FhirClient(SourceSettings(name="police-gp", base_url=secured)) as client:
        with pytest.raises(SourceAuthError, match="HTTP 401"):
            await client.search("Flag", {})


def test_smart_backend_settings_name_what_is_missing(tmp_path):
    with pytest.raises(ValueError, match="client_id, private_key_file, key_id"):
        SourceAuth(type="smart-backend")
    with pytest.raises(ValueError, match="does not exist"):
        SourceAuth(type="smart-backend", client_id="x", key_id="k", private_key_file=tmp_path / "nope.pem")
    assert json.loads(SourceAuth().model_dump_json())["type"] == "none"
