"""Secure defaults with real processes: TLS, and the server refusing processes that are not a configured site."""

from __future__ import annotations

import datetime
import ipaddress
import json
from pathlib import Path

import pytest

from tests.federated.conftest import federated_project, rogue
from workbench import federated
from workbench.config import load_config
from workbench.governance import audit


def _certificates(folder: Path) -> dict[str, str]:
    """A self-signed CA and a server certificate it signed for localhost and 127.0.0.1, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "workbench test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])).issuer_name(ca_name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False).sign(ca_key, hashes.SHA256()))
    files = {"ca": ca.public_bytes(serialization.Encoding.PEM), "cert": cert.public_bytes(serialization.Encoding.PEM),
             "key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())}
    for name, data in files.items():
        (folder / f"{name}.pem").write_bytes(data)
    return {name: str(folder / f"{name}.pem") for name in files}


@pytest.mark.slow
def test_a_tls_run_refuses_a_wrong_secret_and_an_unknown_site_and_trains_without_them(tmp_path, site_files) -> None:  # noqa: ANN001
    tls = _certificates(tmp_path)
    path = federated_project(tmp_path, site_files["iid"], min_sites=2, rounds=2, round_timeout_s=15, tls=tls)
    config = load_config(path)
    address = config.federated.address
    rogues = []

    def on_event(event: dict, fleet) -> None:  # noqa: ANN001
        if event["event"] == "server_starting" and not rogues:
            fleet.sites["c"].kill()  # the real site c never arrives: the server waits round_timeout_s for it, then goes on with a and b
            rogues.append(rogue(path, "c", site_files["iid"]["c"], "not the secret of c", address, tmp_path / "rogue-c.log", Path(tls["ca"])))
            rogues.append(rogue(path, "mallory", site_files["iid"]["a"], "any", address, tmp_path / "rogue-mallory.log", Path(tls["ca"])))

    result = federated.train(config, on_event=on_event)

    assert result["tls"] is True and sorted(result["sites"]) == ["a", "b"]
    refused = sorted((r["site"], r["reason"]) for r in result["refused"])
    assert refused == [("c", "wrong proof: its secret is not the site's"), ("mallory", "not a configured site (config key sites)")]
    assert [(d["site"], d["reason"]) for d in result["dropped"]] == [("c", "never connected or was refused")]
    assert [proc.wait(timeout=30) for proc in rogues] == [0, 0]  # told to disconnect, they left
    for log in ("rogue-c.log", "rogue-mallory.log"):
        text = (tmp_path / log).read_text()
        assert "Received: get_properties message" in text and "train message" not in text and "evaluate message" not in text
    events = [json.loads(line) for line in audit.log_path(config.store).read_text().splitlines()]
    assert sorted(e["subject"] for e in events if e["action"] == "federated.refuse") == ["c", "mallory"]
