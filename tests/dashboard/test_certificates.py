"""Certificates: the API and dashboard documents, tamper detection, ``sfd certificate verify``."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import typer
from typer.testing import CliRunner

from cli.certificate import register
from domain.certificates.signing import signing_key

from .conftest import Dashboard


def _certificate(dashboard: Dashboard, officer: httpx.Client) -> dict:
    response = officer.get(f"/dashboard/jobs/{dashboard.succeeded}/certificate.json")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    return response.json()


def _verify(*args: str) -> tuple[int, str]:
    app = typer.Typer()
    register(app)
    app.command()(lambda: None)  # a second command keeps ``certificate`` a subcommand
    result = CliRunner().invoke(app, ["certificate", "verify", *args])
    return result.exit_code, result.output


def test_certificate_states_what_was_forgotten(dashboard: Dashboard, officer: httpx.Client) -> None:
    document = _certificate(dashboard, officer)
    with dashboard.service.client() as admin:
        job = admin.get(f"/v1/jobs/{dashboard.succeeded}").json()
        files = admin.get(f"/v1/jobs/{dashboard.succeeded}/artifacts").json()["data"]
        model = admin.get("/v1/models/digits").json()
        completion = admin.get(
            "/v1/audit/events", params={"object_id": dashboard.succeeded, "action": "job.succeeded"}
        ).json()["data"][0]
        from_api = admin.get(f"/v1/jobs/{dashboard.succeeded}/certificate").json()
    assert from_api == document  # deterministic, and the same through API and dashboard
    assert document["object"] == "unlearning.certificate"
    assert document["input_model"]["sha256"] == model["sha256"]
    assert document["forget"]["unsafe_concepts"] == ["0"]
    assert document["forget"]["safe_surrogates"] == ["1"]
    assert {a["name"]: a["sha256"] for a in document["output"]["artifacts"]} == {
        f["name"]: f["sha256"] for f in files
    }
    assert len(document["output"]["generator_sha256"]) == 64
    assert document["evaluator"]["name"] and len(document["evaluator"]["sha256"]) == 64
    assert 0 <= document["metrics"]["unlearned"]["forget_rate"] <= 1
    assert "forget_rate" in document["metrics"]["teacher"]
    assert document["audit"] == {
        "action": "job.succeeded",
        "seq": completion["id"],
        "hash": completion["hash"],
    }
    assert document["requester"]["api_key_name"].startswith("bootstrap admin")
    assert document["time_window"]["completed_at"].endswith("Z")
    assert job["status"] == "succeeded"
    assert document["signature"]["algorithm"] == "HMAC-SHA256"


def test_certificate_page_is_printable(dashboard: Dashboard, officer: httpx.Client) -> None:
    page = officer.get(f"/dashboard/jobs/{dashboard.succeeded}/certificate")
    assert page.status_code == 200
    document = _certificate(dashboard, officer)
    assert "Signature valid" in page.text
    for value in (
        document["input_model"]["sha256"],
        document["output"]["generator_sha256"],
        document["audit"]["hash"],
        document["signature"]["value"],
    ):
        assert value in page.text


def test_api_certificate_needs_audit_scope_and_success(dashboard: Dashboard) -> None:
    with dashboard.service.client(dashboard.reader_key) as reader:
        assert reader.get(f"/v1/jobs/{dashboard.succeeded}/certificate").status_code == 403
    with dashboard.service.client(dashboard.other_key) as other:
        assert other.get(f"/v1/jobs/{dashboard.succeeded}/certificate").status_code == 404
    with dashboard.service.client() as admin:
        failed = admin.get(f"/v1/jobs/{dashboard.failed}/certificate")
        assert failed.status_code == 409
        assert failed.json()["code"] == "certificate_unavailable"


def test_cli_verifies_signature_and_artifacts(
    dashboard: Dashboard, officer: httpx.Client, tmp_path: Path
) -> None:
    document = _certificate(dashboard, officer)
    certificate = tmp_path / "certificate.json"
    certificate.write_text(json.dumps(document))
    key_file = tmp_path / "certificate.key"
    key_file.write_bytes(signing_key(dashboard.service.settings))
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    for item in document["output"]["artifacts"]:
        url = f"/dashboard/jobs/{dashboard.succeeded}/artifacts/{item['name']}"
        (artifacts / item["name"]).write_bytes(officer.get(url).content)

    code, output = _verify(str(certificate), "--key-file", str(key_file))
    assert code == 0, output
    assert "signature: valid" in output
    code, output = _verify(
        str(certificate), "--key-file", str(key_file), "--artifacts", str(artifacts)
    )
    assert code == 0, output
    assert "generator folder" in output and "FAIL" not in output

    tampered = json.loads(json.dumps(document))
    tampered["metrics"]["unlearned"]["forget_rate"] = 0.123
    (tmp_path / "tampered.json").write_text(json.dumps(tampered))
    code, output = _verify(str(tmp_path / "tampered.json"), "--key-file", str(key_file))
    assert code == 1 and "altered" in output

    wrong_key = tmp_path / "wrong.key"
    wrong_key.write_text("not the key")
    code, output = _verify(str(certificate), "--key-file", str(wrong_key))
    assert code == 1 and "not with this key" in output

    report = artifacts / "report.json"
    report.write_bytes(report.read_bytes() + b" ")
    code, output = _verify(
        str(certificate), "--key-file", str(key_file), "--artifacts", str(artifacts)
    )
    assert code == 1 and "report.json" in output and "FAIL" in output
