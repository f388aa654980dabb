"""A source's `next` links are untrusted: its credentials never go anywhere but the source itself.

Each source here is a real HTTP server on a loopback port (tests/sources/scripted.py), and so is the host a
hostile or broken source's next link names: the test proves that host was never asked.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.config import SourceAuth, SourceSettings
from app.sources import FhirClient, SmartBackendAuth
from tests.sources.scripted import Asked, Scripted, scripted, searchset

TOKEN = "police-token-not-for-anyone-else"


def flag(n: int) -> dict:
    return {"resourceType": "Flag", "id": f"flag-{n}", "status": "active", "code": {"text": f"flag {n}"}, "subject": {}}


@pytest.fixture
def trap() -> Iterator[Scripted]:
    """Another server, on another port: it answers a page of 8 records to anyone who asks."""
    with scripted(lambda asked, base: (200, searchset(*(flag(n) for n in range(8))))) as server:
        yield server


@pytest.fixture
def police(monkeypatch: pytest.MonkeyPatch) -> SourceAuth:
    monkeypatch.setenv("POLICE_TOKEN", TOKEN)
    return SourceAuth(type="bearer", token_env="POLICE_TOKEN")


def paging_to(next_url: str):
    """A source whose first page of Flags links `next` to `next_url` (given its own base URL)."""

    def script(asked: Asked, base: str):
        if asked.path == "/fhir/Flag" and "page=2" not in asked.query:
            return 200, searchset(flag(100), link=[{"relation": "next", "url": next_url.format(base=base)}])
        return 200, searchset(flag(101))  # page 2, wherever it is asked for

    return script


def off_origin_links(trap_url: str) -> list[str]:
    port = httpx.URL(trap_url).port
    return [
        f"{trap_url}/Flag?page=2",  # another port on the same host
        f"http://localhost:{port}/fhir/Flag?page=2",  # another host name
    ]


async def test_a_next_link_to_another_origin_is_never_asked_and_the_result_is_partial(trap, police):
    for link in off_origin_links(trap.base_url):
        with scripted(paging_to(link)) as source:
            settings = SourceSettings(name="police-gp", base_url=source.base_url, auth=police)
            async with FhirClient(settings) as client:
                result = await client.search("Flag", {"subject": "Patient/x"})

        assert [r.id for r in result.resources] == ["flag-100"], link
        assert any("next page link points outside this source" in p for p in result.problems), result.problems
        assert any(f":{httpx.URL(link).port}/fhir/Flag" in p for p in result.problems)  # names the link
        assert not any("page=2" in p for p in result.problems)  # but not its query (patient data, maybe)
        assert [a.authorization for a in source.asked] == [f"Bearer {TOKEN}"]
    assert trap.asked == []


@pytest.mark.parametrize(
    "link",
    [
        "{base}/../admin/Flag?page=2",
        "{base}/%2E%2E/admin/Flag?page=2",
        "{base}-other/Flag?page=2",
        "/admin/Flag?page=2",
        "https://{host}/fhir/Flag?page=2",
    ],
)
async def test_a_next_link_outside_the_base_path_or_scheme_is_not_followed(link, police):
    def script(asked: Asked, base: str):
        return paging_to(link.format(base=base, host=httpx.URL(base).netloc.decode()))(asked, base)

    with scripted(script) as source:
        settings = SourceSettings(name="police-gp", base_url=source.base_url, auth=police)
        async with FhirClient(settings) as client:
            result = await client.search("Flag", {"subject": "Patient/x"})

    assert len(source.asked) == 1
    assert [r.id for r in result.resources] == ["flag-100"]
    assert any("not followed" in p for p in result.problems)


@pytest.mark.parametrize("link", ["{base}/Flag?page=2", "Flag?page=2"])
async def test_a_next_link_on_the_source_itself_is_followed_with_its_credentials(link, police):
    with scripted(paging_to(link)) as source:
        settings = SourceSettings(name="police-gp", base_url=source.base_url, auth=police)
        async with FhirClient(settings) as client:
            result = await client.search("Flag", {"subject": "Patient/x"})

    assert [r.id for r in result.resources] == ["flag-100", "flag-101"]
    assert not result.problems and not result.truncated
    assert [a.authorization for a in source.asked] == [f"Bearer {TOKEN}"] * 2
    assert "page=2" in source.asked[1].query


async def test_a_bearer_token_is_not_attached_to_a_request_to_another_origin(trap, police):
    """The second line of defence: whatever asks, the source's auth adds its token only on the source's origin."""
    with scripted(lambda asked, base: (200, searchset())) as source:
        settings = SourceSettings(name="police-gp", base_url=source.base_url, auth=police)
        async with FhirClient(settings) as client:
            await client._http.get(f"{trap.base_url}/Flag")
            await client._http.get(f"{source.base_url}/Flag")

    assert [a.authorization for a in trap.asked] == [None]
    assert [a.authorization for a in source.asked] == [f"Bearer {TOKEN}"]


async def test_a_smart_token_is_only_sent_to_the_source_and_not_fetched_for_elsewhere(trap):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()

    def script(asked: Asked, base: str):
        if asked.path == "/fhir/token":
            return 200, {"access_token": "smart-token", "token_type": "bearer", "expires_in": 300}, "application/json"
        return 200, searchset()

    with scripted(script) as source:
        auth = SmartBackendAuth(
            source="cpis",
            base_url=source.base_url,
            client_id="neosafe",
            private_key_pem=pem,
            key_id="k1",
            scope="system/*.read",
            token_url=f"{source.base_url}/token",
        )
        async with httpx.AsyncClient(auth=auth) as http:
            await http.get(f"{trap.base_url}/Flag")
            assert auth.tokens_fetched == 0
            await http.get(f"{source.base_url}/Flag")
            await http.get(f"{trap.base_url}/Flag")

    assert [a.authorization for a in trap.asked] == [None, None]
    assert [(a.path, a.authorization) for a in source.asked] == [
        ("/fhir/token", None),
        ("/fhir/Flag", "Bearer smart-token"),
    ]
    assert auth.tokens_fetched == 1
