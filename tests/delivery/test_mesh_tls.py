"""MESH over TLS, as live MESH is reached: HTTPS with the unit's client certificate (mutual TLS), checked against the
CA in NEOSAFE_MESH_CA_FILE. The MESH sandbox is served by uvicorn with a CA, server and client certificates made here.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.config import Settings
from app.delivery import MeshChannel, NotSent, Outgoing
from app.delivery.inbox import inbox_lines
from sandbox.mesh import UNIT_MAILBOX, MeshSandbox
from tests.delivery.conftest import mesh_settings

GP = "NSGP0001"


def _write(directory: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> tuple[Path, Path]:
    cert_file, key_file = directory / f"{name}.pem", directory / f"{name}-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def _certificate(subject: str, key, issuer: x509.Name | None, signer, *, ca: bool = False, server: bool = False):
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
    return builder.sign(signer, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA, the MESH server's certificate for 127.0.0.1, and the unit's client certificate, all signed by it."""
    directory = tmp_path_factory.mktemp("pki")
    ca_key, server_key, client_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = _certificate("NeoSafe test MESH CA", ca_key, None, ca_key, ca=True)
    server = _certificate("127.0.0.1", server_key, ca.subject, ca_key, server=True)
    client = _certificate(UNIT_MAILBOX, client_key, ca.subject, ca_key)
    ca_file, _ = _write(directory, "ca", ca, ca_key)
    server_cert, server_key_file = _write(directory, "server", server, server_key)
    client_cert, client_key_file = _write(directory, "client", client, client_key)
    return {"ca": ca_file, "server": server_cert, "server_key": server_key_file, "cert": client_cert,
            "key": client_key_file}  # fmt: skip


@pytest.fixture(scope="module")
def tls_mesh(pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeshSandbox]:
    tls = (pki["server"], pki["server_key"], pki["ca"])
    with MeshSandbox(tmp_path_factory.mktemp("mesh-tls"), tls=tls, client_cert=(pki["cert"], pki["key"])) as mesh:
        yield mesh


def _settings(tmp_path: Path, mesh: MeshSandbox, **tls) -> Settings:
    return mesh_settings(tmp_path, mesh, **tls)


def _outgoing(n: str) -> Outgoing:
    message = {"resourceType": "Bundle", "type": "message", "entry": []}
    return Outgoing(address=GP, delivery_id=f"tls-{n}", subject="NeoSafe TLS test", message=message, transaction={})


async def test_the_handover_is_sent_and_read_over_mutual_tls(tls_mesh, pki, tmp_path):
    settings = _settings(
        tmp_path, tls_mesh, mesh_ca_file=pki["ca"], mesh_cert_file=pki["cert"], mesh_key_file=pki["key"]
    )
    assert tls_mesh.url.startswith("https://")

    message_id = await MeshChannel(settings).send(_outgoing("sent"))

    lines = await inbox_lines(settings, GP, tls_mesh.password(GP))  # the recipient's mailbox, over TLS too
    assert any(line.startswith(message_id) for line in lines)


@pytest.mark.parametrize(
    "missing",
    [
        pytest.param({"mesh_cert_file", "mesh_key_file"}, id="no client certificate"),
        pytest.param({"mesh_ca_file"}, id="the server's CA not trusted"),
    ],
)
async def test_without_the_client_certificate_or_the_ca_nothing_is_sent(tls_mesh, pki, tmp_path, missing):
    tls = {"mesh_ca_file": pki["ca"], "mesh_cert_file": pki["cert"], "mesh_key_file": pki["key"]}
    settings = _settings(tmp_path, tls_mesh, **{k: v for k, v in tls.items() if k not in missing})

    with pytest.raises(NotSent, match="MESH unreachable or refused"):
        await MeshChannel(settings).send(_outgoing("refused"))
