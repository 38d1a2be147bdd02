"""Certificates: Ed25519-signed in-toto attestations (Statement v1 in a DSSE envelope), the
public keys at ``/v1/signing-keys``, ``sfd certificate verify`` with only a public key,
tamper detection, and key rotation keeping old certificates verifiable."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import httpx
import typer
from markupsafe import escape
from typer.testing import CliRunner

from cli.certificate import register
from domain.certificates import attestation
from domain.settings import Settings
from domain.signing import load_keyring, public_keys, rotate_key_file

from .conftest import Dashboard


def _certificate(dashboard: Dashboard, officer: httpx.Client) -> dict:
    response = officer.get(f"/dashboard/jobs/{dashboard.succeeded}/certificate.json")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    return response.json()


def _statement(envelope: dict) -> dict:
    return json.loads(base64.b64decode(envelope["payload"]))


def _verify(*args: str) -> tuple[int, str]:
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["certificate", "verify", *args])
    return result.exit_code, " ".join(result.output.split())  # rich wraps long lines


def _public_key_file(dashboard: Dashboard, folder: Path) -> Path:
    keys = httpx.get(f"{dashboard.url}/v1/signing-keys").json()["data"]  # no API key needed
    path = folder / "service.pub"
    path.write_text("".join(k["public_key_pem"] for k in keys))
    return path


def test_certificate_is_a_signed_in_toto_statement(
    dashboard: Dashboard, officer: httpx.Client
) -> None:
    envelope = _certificate(dashboard, officer)
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    statement = _statement(envelope)
    with dashboard.service.client() as admin:
        files = admin.get(f"/v1/jobs/{dashboard.succeeded}/artifacts").json()["data"]
        model = admin.get("/v1/models/digits").json()
        completion = admin.get(
            "/v1/audit/events", params={"object_id": dashboard.succeeded, "action": "job.succeeded"}
        ).json()["data"][0]
        from_api = _statement(admin.get(f"/v1/jobs/{dashboard.succeeded}/certificate").json())
        keys = admin.get("/v1/signing-keys").json()["data"]
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == attestation.PREDICATE_TYPE
    assert {s["name"]: s["digest"]["sha256"] for s in statement["subject"]} == {
        f["name"]: f["sha256"] for f in files
    }
    document = statement["predicate"]
    for field in ("issued_at",):
        document.pop(field), from_api["predicate"].pop(field)
    head, api_head = document["audit"].pop("head"), from_api["predicate"]["audit"].pop("head")
    assert from_api["predicate"] == document  # the same evidence through API and dashboard
    assert api_head["seq"] >= head["seq"] >= completion["id"]
    assert head["checkpoint"].endswith(f"{head['seq']:020d}.json")
    assert document["object"] == "unlearning.certificate"
    assert document["input_model"]["sha256"] == model["sha256"]
    assert document["forget"]["unsafe_concepts"] == ["0"]
    assert len(document["output"]["generator_sha256"]) == 64
    assert 0 <= document["metrics"]["unlearned"]["forget_rate"] <= 1
    assert document["audit"]["seq"] == completion["id"]
    assert document["audit"]["hash"] == completion["hash"]
    assert isinstance(document["training"]["steps"], int)  # numbers stay integers
    assert envelope["signatures"][0]["keyid"] in {k["keyid"] for k in keys}
    assert [k["status"] for k in keys][0] == "active" and keys[0]["algorithm"] == "ed25519"


def test_certificate_page_is_printable(dashboard: Dashboard, officer: httpx.Client) -> None:
    page = officer.get(f"/dashboard/jobs/{dashboard.succeeded}/certificate")
    assert page.status_code == 200
    assert "Signature valid" in page.text and "Ed25519" in page.text
    document = _statement(_certificate(dashboard, officer))["predicate"]
    for value in (
        document["input_model"]["sha256"],
        document["output"]["generator_sha256"],
        document["audit"]["hash"],
    ):
        assert value in page.text
    headline = re.search(r'<h1 id="certificate-statement">(.*?)</h1>', page.text, re.S)
    assert headline is not None and headline.group(1) == escape(document["statement"])


def test_certificate_claims_removal_only_when_forgotten(
    dashboard: Dashboard, officer: httpx.Client
) -> None:
    document = _statement(_certificate(dashboard, officer))["predicate"]
    with dashboard.service.client() as admin:
        job = admin.get(f"/v1/jobs/{dashboard.succeeded}").json()
    verdict = document["verdict"]
    assert verdict["verdict"] == job["verdict"] and verdict["failed"] == job["failed_criteria"]
    assert verdict["policy"]["require_probes"] is True and verdict["criteria"]
    assert document["robustness"]["budget"] == "quick" and document["robustness"]["attacks"]
    claims_removal = document["statement"].startswith("Concept 0 removed from digits")
    assert claims_removal == (job["verdict"] == "forgotten")
    if not claims_removal:
        assert document["statement"].startswith("Concept 0 was NOT shown to be removed")
        assert all(name in document["statement"] for name in verdict["failed"])


def test_api_certificate_needs_audit_scope_and_success(dashboard: Dashboard) -> None:
    with dashboard.service.client(dashboard.reader_key) as reader:
        assert reader.get(f"/v1/jobs/{dashboard.succeeded}/certificate").status_code == 403
    with dashboard.service.client(dashboard.other_key) as other:
        assert other.get(f"/v1/jobs/{dashboard.succeeded}/certificate").status_code == 404
    with dashboard.service.client() as admin:
        failed = admin.get(f"/v1/jobs/{dashboard.failed}/certificate")
        assert failed.status_code == 409
        assert failed.json()["code"] == "certificate_unavailable"


def test_cli_verifies_with_the_public_key_only(
    dashboard: Dashboard, officer: httpx.Client, tmp_path: Path
) -> None:
    envelope = _certificate(dashboard, officer)
    certificate = tmp_path / "certificate.json"
    certificate.write_text(json.dumps(envelope))
    public = _public_key_file(dashboard, tmp_path)
    assert "PRIVATE" not in public.read_text()
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    for item in _statement(envelope)["subject"]:
        url = f"/dashboard/jobs/{dashboard.succeeded}/artifacts/{item['name']}"
        (artifacts / item["name"]).write_bytes(officer.get(url).content)

    code, output = _verify(str(certificate), "--public-key", str(public))
    assert code == 0, output
    assert "valid Ed25519 signature" in output
    predicate = _statement(envelope)["predicate"]
    assert f"verdict: {predicate['verdict']['verdict']}" in output
    assert predicate["statement"] in output
    code, output = _verify(
        str(certificate),
        "--keys-url",
        f"{dashboard.url}/v1/signing-keys",
        "--artifacts",
        str(artifacts),
    )
    assert code == 0, output
    assert "generator folder" in output and "FAIL" not in output

    statement = _statement(envelope)
    statement["predicate"]["metrics"]["unlearned"]["forget_rate"] = 0.123
    tampered = {**envelope, "payload": base64.b64encode(json.dumps(statement).encode()).decode()}
    (tmp_path / "tampered.json").write_text(json.dumps(tampered))
    code, output = _verify(str(tmp_path / "tampered.json"), "--public-key", str(public))
    assert code == 1 and "altered" in output

    other = load_keyring(Settings(home=tmp_path / "elsewhere"))  # a forger's own key
    forged = other.sign(json.dumps(statement).encode(), attestation.PAYLOAD_TYPE)
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    code, output = _verify(str(tmp_path / "forged.json"), "--public-key", str(public))
    assert code == 1 and "none of them trusted" in output

    code, output = _verify(str(certificate))
    assert code == 2 and "public key" in output

    report = artifacts / "report.json"
    report.write_bytes(report.read_bytes() + b" ")
    code, output = _verify(
        str(certificate), "--public-key", str(public), "--artifacts", str(artifacts)
    )
    assert code == 1 and "report.json" in output and "FAIL" in output


def test_rotation_keeps_old_certificates_verifiable(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    before = load_keyring(settings)
    predicate = {"id": "cert_x", "output": {"artifacts": [{"name": "a", "sha256": "ab" * 32}]}}
    old_certificate = attestation.sign(predicate, before)
    old, new = rotate_key_file(settings)
    after = load_keyring(settings)
    assert old == before.active.keyid and new == after.active.keyid and old != new
    assert [k.status for k in after.keys.values()] == ["active", "retired"]
    keys = [k.key for k in after.keys.values()]
    assert attestation.open_envelope(old_certificate, keys)["predicate"] == predicate
    new_certificate = attestation.sign(predicate, after)
    assert new_certificate["signatures"][0]["keyid"] == new
    only_old = [k.key for k in public_keys(before.active.pem)]
    assert attestation.open_envelope(old_certificate, only_old)
