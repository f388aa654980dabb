"""CDS Hooks (issue 17 item 2) over HTTP, on a live NeoSafe and the sandbox FHIR servers.

The test is the EPR: it signs its own JWTs (RS384 and ES384) with keys whose JWK Set it serves on loopback, named in
a CDS clients file of its own. Discovery lists the three services with their prefetch; a baby due an admission
checklist gets that card, one whose discharge is held a critical card, each linking to NeoSafe on that baby; and an
unsigned, expired, replayed, wrong-audience or foreign JWT (and every other shortcut) is refused with 401, audited.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.assessments import NewInformation, make_engine, session_factory
from app.assessments.watched import add_findings
from app.checkpoints import DEMO_USERS
from app.checkpoints.cds import load_cds_clients
from app.config import ConfigError, Settings
from app.main import create_app
from app.web import issue_token
from tests.answering import completed
from tests.conftest import SECRET, make_settings
from tests.factories import on_the_unit
from tests.servers import serving
from tests.web.test_discharge_holds import discharge, submit
from tests.web.test_sessions import audited
from tests.written import delete_written

ISSUER = "https://epr.test"
FOREIGN = "https://foreign-epr.test"
PUBLIC_URL = "https://neosafe.test"  # NeoSafe as the EPR reaches it (behind the trust's proxy): the JWTs' audience
SERVICE_IDS = {
    "patient-view": "neosafe-patient-view",
    "encounter-start": "neosafe-encounter-start",
    "encounter-discharge": "neosafe-encounter-discharge",
}
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP384R1())
UNLISTED_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # in no JWK Set


def _jwk(key: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = jwt.algorithms.RSAAlgorithm if alg == "RS384" else jwt.algorithms.ECAlgorithm
    return {**algorithm.to_jwk(key.public_key(), as_dict=True), "kid": kid, "alg": alg, "use": "sig"}


JWKS = {"keys": [_jwk(RSA_KEY, "epr-rsa", "RS384"), _jwk(EC_KEY, "epr-ec", "ES384")]}


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    """The EPR's JWK Set, served on loopback as an EPR publishes it."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(JWKS).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/jwks.json"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def cds_settings(jwks_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    directory = tmp_path_factory.mktemp("cds")
    clients = Path(directory / "cds-clients.toml")
    clients.write_text(
        f'[[clients]]\nname = "Test EPR"\nissuer = "{ISSUER}"\njwks_url = "{jwks_url}"\nclient_id = "epr-client"\n'
    )
    quiet = {"watch": False} if "watch" in Settings.model_fields else {}  # no background passes over the unit
    return make_settings(directory).model_copy(
        update={"public_url": PUBLIC_URL, "cds_clients_file": clients, "outbox_worker": False, **quiet}
    )


@pytest.fixture(scope="module")
def neosafe(cds_settings: Settings, sources) -> Iterator[str]:
    with serving(create_app(cds_settings, sources=sources)) as url:
        yield url


@pytest.fixture
def nurse(neosafe: str) -> Iterator[httpx.Client]:
    token = issue_token(DEMO_USERS["nurse"], secret=SECRET)
    with httpx.Client(base_url=neosafe, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        yield client


def signed(
    hook: str = "patient-view",
    *,
    key: Any = RSA_KEY,
    kid: str = "epr-rsa",
    alg: str = "RS384",
    lifetime: timedelta = timedelta(minutes=5),
    **claims: Any,
) -> str:
    """A JWT as the EPR signs one for a call of `hook`'s service; `claims` change or (None) drop its claims."""
    now = datetime.now(UTC)
    payload = {
        "iss": ISSUER,
        "sub": "epr-client",
        "aud": f"{PUBLIC_URL}/cds-services/{SERVICE_IDS[hook]}",
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
        "jti": str(uuid.uuid4()),
    }
    payload = {k: v for k, v in {**payload, **claims}.items() if v is not None}
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})


def request_body(fhir: dict[str, httpx.Client], hook: str, baby: str | None) -> dict[str, Any]:
    """The CDS Hooks request the EPR sends, its Patient and Encounter prefetched from the unit's record."""
    prefetch: dict[str, Any] = {}
    context: dict[str, Any] = {"userId": "Practitioner/epr-nurse", "patientId": f"nn-test-{baby}"}
    if baby is not None:
        prefetch["patient"] = fhir["neonatal"].get(f"Patient/nn-test-{baby}").raise_for_status().json()
        if hook != "patient-view":
            context["encounterId"] = f"nn-test-{baby}-enc"
            prefetch["encounter"] = fhir["neonatal"].get(f"Encounter/nn-test-{baby}-enc").raise_for_status().json()
    return {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context, "prefetch": prefetch}


def call(
    url: str, fhir: dict[str, httpx.Client], hook: str, baby: str | None, token: str | None = "sign"
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {signed(hook) if token == 'sign' else token}"} if token else {}
    body = request_body(fhir, hook, baby)
    return httpx.post(f"{url}/cds-services/{SERVICE_IDS[hook]}", json=body, headers=headers, timeout=60)


def cards(url: str, fhir: dict[str, httpx.Client], hook: str, baby: str) -> list[dict[str, Any]]:
    answer = call(url, fhir, hook, baby)
    assert answer.status_code == 200, answer.text
    found = answer.json()["cards"]
    for card in found:
        assert len(card["summary"]) <= 140 and card["source"]["label"] == "NeoSafe"
        assert card["indicator"] in ("info", "warning", "critical")
    return found


def opens_the_baby(card: dict[str, Any], baby: str) -> bool:
    return card["links"] == [
        {"label": "Open this baby in NeoSafe", "url": f"{PUBLIC_URL}/patients/{baby}", "type": "absolute"}
    ]


def test_discovery_lists_the_three_services_with_prefetch_for_the_patient_and_the_stay(neosafe):
    answer = httpx.get(f"{neosafe}/cds-services", timeout=30)

    assert answer.status_code == 200
    services = {s["hook"]: s for s in answer.json()["services"]}
    assert set(services) == set(SERVICE_IDS)
    assert {h: s["id"] for h, s in services.items()} == SERVICE_IDS
    assert services["patient-view"]["prefetch"] == {"patient": "Patient/{{context.patientId}}"}
    for hook in ("encounter-start", "encounter-discharge"):
        assert services[hook]["prefetch"] == {
            "patient": "Patient/{{context.patientId}}",
            "encounter": "Encounter/{{context.encounterId}}",
        }
    assert all(s["title"] and s["description"] for s in services.values())


def test_a_baby_due_an_admission_checklist_gets_that_card_on_patient_view_and_encounter_start(neosafe, fhir):
    baby = on_the_unit(fhir["neonatal"], datetime.now(UTC) - timedelta(hours=1))

    for hook in ("patient-view", "encounter-start"):
        [card] = cards(neosafe, fhir, hook, baby)
        assert (card["summary"], card["indicator"]) == ("Safeguarding admission checklist due", "info")
        assert card["detail"].startswith("Due by ")
        assert opens_the_baby(card, baby)


def test_an_overdue_admission_checklist_is_a_warning_and_a_done_one_no_card(neosafe, fhir, nurse):
    baby = on_the_unit(fhir["neonatal"], datetime.now(UTC) - timedelta(hours=30))
    [card] = cards(neosafe, fhir, "patient-view", baby)
    assert (card["summary"], card["indicator"]) == ("Safeguarding admission checklist overdue", "warning")

    assessment = submit(nurse, baby, completed(nurse, baby))
    try:
        assert cards(neosafe, fhir, "patient-view", baby) == []
    finally:
        delete_written(fhir["neonatal"], assessment)


def test_a_baby_whose_discharge_is_held_gets_a_critical_card_until_it_is_not(neosafe, fhir, nurse):
    baby = on_the_unit(fhir["neonatal"], datetime.now(UTC) - timedelta(days=3))
    [card] = cards(neosafe, fhir, "encounter-discharge", baby)
    assert (card["summary"], card["indicator"]) == ("Safeguarding discharge checklist not done", "warning")

    held = submit(nurse, baby, discharge(nurse, baby, "concern-at-discharge", "dash-outstanding"))
    ready = None
    try:
        [card] = cards(neosafe, fhir, "encounter-discharge", baby)
        assert card["indicator"] == "critical"
        assert card["summary"] == "Discharge held: safeguarding findings are not resolved in NeoSafe"
        assert card["detail"].startswith("2 findings of the discharge checklist hold this baby's discharge")
        assert "DASH" not in card["detail"] and "concern" not in card["detail"]  # no finding named in the EPR
        assert opens_the_baby(card, baby)

        ready = submit(nurse, baby, discharge(nurse, baby), amends=held)
        assert cards(neosafe, fhir, "encounter-discharge", baby) == []
    finally:
        for assessment in (held, ready):
            if assessment:
                delete_written(fhir["neonatal"], assessment)


def test_a_patient_without_an_nhs_number_is_not_checked_never_nothing_due(neosafe, fhir):
    body = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/x", "patientId": "p"},
        "prefetch": {"patient": {"resourceType": "Patient", "id": "p"}},
    }
    answer = httpx.post(
        f"{neosafe}/cds-services/neosafe-patient-view",
        json=body,
        headers={"Authorization": f"Bearer {signed()}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    [card] = answer.json()["cards"]
    assert card["indicator"] == "warning" and card["summary"].startswith("Safeguarding checks not checked")
    assert "links" not in card


def test_no_prefetched_patient_is_412(neosafe, fhir):
    answer = call(neosafe, fhir, "patient-view", None)
    assert answer.status_code == 412 and "Patient" in answer.json()["detail"]


def _none_signed() -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": f"{PUBLIC_URL}/cds-services/neosafe-patient-view", "iat": now}
    return jwt.encode({**claims, "exp": now + 300, "jti": str(uuid.uuid4())}, None, algorithm="none")


def _public_key_as_hmac_secret() -> str:
    """The old confusion: the JWT "signed" HS384 with the EPR's public key as the secret."""
    now = int(time.time())
    header = jwt.utils.base64url_encode(json.dumps({"alg": "HS384", "kid": "epr-rsa", "typ": "JWT"}).encode())
    claims = {"iss": ISSUER, "aud": f"{PUBLIC_URL}/cds-services/neosafe-patient-view", "iat": now, "exp": now + 300}
    payload = jwt.utils.base64url_encode(json.dumps({**claims, "jti": str(uuid.uuid4())}).encode())
    secret = json.dumps(JWKS["keys"][0]).encode()
    signature = jwt.utils.base64url_encode(hmac.new(secret, header + b"." + payload, hashlib.sha384).digest())
    return (header + b"." + payload + b"." + signature).decode()


REFUSED = {
    "no Authorization header": (lambda: None, "no JWT"),
    "not a JWT": (lambda: "not-a-jwt", "does not carry a JWT"),
    "unsigned (alg none)": (_none_signed, "only RS384 or ES384"),
    "HS384 with the public key": (_public_key_as_hmac_secret, "only RS384 or ES384"),
    "RS256": (lambda: signed(alg="RS256"), "only RS384 or ES384"),
    "expired": (lambda: signed(exp=int(time.time()) - 120), "expired"),
    "wrong audience": (lambda: signed(aud=f"{PUBLIC_URL}/cds-services/someone-else"), "aud"),
    "another service's audience": (lambda: signed("encounter-discharge"), "aud"),
    "foreign issuer": (lambda: signed(iss=FOREIGN, key=UNLISTED_KEY), "issuer (iss) is not an EPR allowed"),
    "a key not in the issuer's JWK Set": (lambda: signed(key=UNLISTED_KEY, kid="epr-unlisted"), "kid"),
    "the listed kid, another key": (lambda: signed(key=UNLISTED_KEY), "signature does not verify"),
    "no jti": (lambda: signed(jti=None), "no jti claim"),
    "no exp": (lambda: signed(exp=None), "no exp claim"),
    "lives longer than 5 minutes": (lambda: signed(lifetime=timedelta(hours=1)), "longer than 5 minutes"),
    "another client_id (sub)": (lambda: signed(sub="another-client"), "sub is not the client_id"),
    "no sub, where the client_id is pinned": (lambda: signed(sub=None), "sub is not the client_id"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_jwt_short_of_every_check_is_refused_401_with_the_reason_and_audited(neosafe, fhir, cds_settings, case):
    make, reason = REFUSED[case]
    baby = on_the_unit(fhir["neonatal"], datetime.now(UTC) - timedelta(hours=1))

    answer = call(neosafe, fhir, "patient-view", baby, token=make())

    assert answer.status_code == 401, answer.text
    assert reason in answer.json()["detail"]
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert "cards" not in answer.json()
    refusals = asyncio.run(audited(cds_settings.database_url, "cds-hook"))
    assert any(e.outcome == "refused" and reason in e.detail for e in refusals)


def test_an_es384_jwt_is_accepted_and_a_replayed_one_refused(neosafe, fhir):
    baby = on_the_unit(fhir["neonatal"], datetime.now(UTC) - timedelta(hours=1))
    token = signed(key=EC_KEY, kid="epr-ec", alg="ES384")

    first = call(neosafe, fhir, "patient-view", baby, token=token)
    again = call(neosafe, fhir, "patient-view", baby, token=token)

    assert first.status_code == 200, first.text
    assert again.status_code == 401 and "used before" in again.json()["detail"]


def test_a_replay_is_refused_by_another_instance_on_the_same_database(neosafe, cds_settings, sources, fhir):
    baby = on_the_unit(fhir["neonatal"], datetime.now(UTC) - timedelta(hours=1))
    token = signed()
    assert call(neosafe, fhir, "patient-view", baby, token=token).status_code == 200

    with serving(create_app(cds_settings, sources=sources)) as other:
        again = call(other, fhir, "patient-view", baby, token=token)

    assert again.status_code == 401 and "used before" in again.json()["detail"]


def test_the_caller_is_a_machine_user_that_sees_no_restricted_detail_and_each_call_is_audited(
    neosafe, fhir, cds_settings
):
    baby = on_the_unit(fhir["neonatal"], datetime.now(UTC) - timedelta(hours=1))
    cards(neosafe, fhir, "patient-view", baby)

    [event] = [e for e in asyncio.run(audited(cds_settings.database_url, "cds-patient-view")) if e.nhs_number == baby]
    assert (event.user_id, event.role, event.outcome) == ("cds-client:Test EPR", "cds-client", "success")


async def _found_new(database_url: str, baby: str, *, restricted: bool) -> None:
    """What the watch job keeps when it finds a record new since the baby's last checkpoint (as its pass would)."""
    engine = make_engine(database_url)
    try:
        finding = NewInformation(
            id=str(uuid.uuid4()),
            nhs_number=baby,
            record_key=f"police|Flag/{uuid.uuid4().hex}",
            change="new",
            category="police",
            category_label="Police",
            display="Police domestic abuse notification",
            source="police-gp",
            person="Father",
            restricted=restricted,
            task_key=str(uuid.uuid4()),
        )
        await add_findings(session_factory(engine), [finding])
    finally:
        await engine.dispose()


def test_new_information_since_admission_is_a_card_that_counts_and_never_names_it(neosafe, fhir, cds_settings):
    baby = on_the_unit(fhir["neonatal"], datetime.now(UTC) - timedelta(hours=1))
    asyncio.run(_found_new(cds_settings.database_url, baby, restricted=False))
    asyncio.run(_found_new(cds_settings.database_url, baby, restricted=True))

    for hook in SERVICE_IDS:
        [card] = [c for c in cards(neosafe, fhir, hook, baby) if c["summary"].startswith("New safeguarding")]
        assert (card["summary"], card["indicator"]) == ("New safeguarding information since admission", "warning")
        assert card["detail"].startswith("2 new records found since the last checkpoint")
        assert not {"Police", "Father", "domestic"} & set(card["detail"].replace(".", " ").split())
        assert opens_the_baby(card, baby)


@pytest.mark.parametrize(
    ("clients", "problem"),
    [
        ('[[clients]]\nname = "EPR"\nissuer = "https://epr"\njwks_url = "http://epr.example/jwks"\n', "https URL"),
        ('[[clients]]\nname = "EPR"\nissuer = "https://epr"\n', "exactly name, issuer and jwks_url"),
        ('[[clients]]\nname = "E"\nissuer = "https://e"\njwks_url = "https://e/k"\nsub = "x"\n', "exactly name"),
        ('[[clients]]\nname = "E"\nissuer = "https://e"\njwks_url = "https://e/k"\nclient_id = ""\n', "non-empty"),
        ('[[clients]]\nname = ""\nissuer = "https://epr"\njwks_url = "https://epr/jwks"\n', "non-empty"),
        ('[[clients]]\nname = "A"\nissuer = "https://e"\njwks_url = "https://e/k"\n' * 2, "listed twice"),
        ("clients = [", "cannot read"),
    ],
)
def test_the_allow_list_names_each_problem_and_takes_key_sets_over_https_only(tmp_path, clients, problem):
    path = tmp_path / "cds-clients.toml"
    path.write_text(clients)

    with pytest.raises(ConfigError, match=problem):
        load_cds_clients(path)


def test_the_shipped_allow_list_lets_no_epr_call():
    assert load_cds_clients(Settings.model_fields["cds_clients_file"].default) == {}


def test_a_broken_allow_list_is_a_503_naming_it_never_an_empty_answer(cds_settings, sources, fhir, tmp_path):
    broken = tmp_path / "cds-clients.toml"
    broken.write_text("[[clients]]\nname = 'EPR'\n")
    own_database = make_settings(tmp_path).database_url
    settings = cds_settings.model_copy(update={"cds_clients_file": broken, "database_url": own_database})

    with serving(create_app(settings, sources=sources)) as url:
        answer = call(url, fhir, "patient-view", None)

    assert answer.status_code == 503 and "cds-clients.toml" in answer.json()["detail"]


def test_when_the_units_record_cannot_be_read_the_card_says_not_checked_never_nothing_due(
    cds_settings, sources, fhir, tmp_path
):
    baby = on_the_unit(fhir["neonatal"], datetime.now(UTC) - timedelta(hours=30))  # overdue, were it readable
    unreachable = [s.model_copy(update={"base_url": "http://127.0.0.1:9/fhir"}) if s.write_back else s for s in sources]
    settings = cds_settings.model_copy(update={"database_url": make_settings(tmp_path).database_url})

    with serving(create_app(settings, sources=unreachable)) as url:
        [card] = cards(url, fhir, "patient-view", baby)
        discharging = cards(url, fhir, "encounter-discharge", baby)

    assert card["indicator"] == "warning" and card["summary"].startswith("Safeguarding checks not checked")
    assert opens_the_baby(card, baby)
    assert {c["summary"] for c in discharging} == {
        "Safeguarding discharge checklist not done",  # none saved in NeoSafe, whatever the record says
        card["summary"],
    }
