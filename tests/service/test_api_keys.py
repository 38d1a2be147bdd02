"""Finding 2 and 5: a tenant admin manages only its own tenant's keys, a platform admin any
tenant's; keys are revoked, expire and rotate, over the API and with `sfd keys`; each change
is in the audit log of the tenant it touches."""

from __future__ import annotations

import time

import httpx
from typer.testing import CliRunner

from cli.main import app as cli

from .support import Service, assert_problem


def _audit(service: Service, key: str, action: str) -> list[dict]:
    with service.client(key) as client:
        events = client.get("/v1/audit/events", params={"action": action, "limit": 100})
        return events.json()["data"]


def test_a_tenant_admin_cannot_mint_keys_for_another_tenant(sqlite_service: Service) -> None:
    acme_admin = sqlite_service.new_key("acme", ["admin"])
    with sqlite_service.client(acme_admin) as acme:
        for tenant in ("globex", "default"):
            body = {"name": "x", "scopes": ["jobs:read"], "tenant": tenant}
            assert_problem(acme.post("/v1/api_keys", json=body), 403, "tenant_forbidden")
        promote = {"name": "x", "scopes": ["platform:admin"]}
        assert_problem(acme.post("/v1/api_keys", json=promote), 403, "scope_forbidden")
        assert_problem(acme.get("/v1/api_keys", params={"tenant": "globex"}), 403)
        own = acme.post("/v1/api_keys", json={"name": "ci", "scopes": ["jobs:read"]})
        assert own.status_code == 201 and own.json()["tenant"] == "acme"


def test_a_platform_admin_mints_anywhere_and_the_tenant_sees_it(sqlite_service: Service) -> None:
    with sqlite_service.client() as platform:  # the bootstrap key is the platform admin
        made = platform.post(
            "/v1/api_keys",
            json={"name": "ops", "scopes": ["jobs:read", "audit:read"], "tenant": "initech"},
        )
        assert made.status_code == 201, made.text
        assert platform.get("/v1/api_keys", params={"tenant": "initech"}).json()["data"]
    key = made.json()
    initech_log = _audit(sqlite_service, key["secret"], "api_key.created")
    assert [e["object_id"] for e in initech_log] == [key["id"]]
    assert initech_log[0]["actor_key_id"] == "key_bootstrap_admin"
    assert key["id"] in {
        e["object_id"] for e in _audit(sqlite_service, sqlite_service.admin_key, "api_key.created")
    }


def test_revoke_expire_and_rotate(sqlite_service: Service) -> None:
    admin = sqlite_service.new_key("hooli", ["admin"])
    with sqlite_service.client(admin) as client:
        made = client.post("/v1/api_keys", json={"name": "ci", "scopes": ["jobs:read"]}).json()
        with sqlite_service.client(made["secret"]) as ci:
            assert ci.get("/v1/jobs").status_code == 200
            revoked = client.delete(f"/v1/api_keys/{made['id']}")
            assert revoked.status_code == 200 and revoked.json()["revoked_at"]
            assert_problem(ci.get("/v1/jobs"), 401, "invalid_api_key")
        assert client.delete(f"/v1/api_keys/{made['id']}").status_code == 200  # idempotent

        soon = {"name": "short", "scopes": ["jobs:read"], "expires_at": int(time.time()) + 2}
        short = client.post("/v1/api_keys", json=soon).json()
        with sqlite_service.client(short["secret"]) as temporary:
            assert temporary.get("/v1/jobs").status_code == 200
            time.sleep(2.5)
            assert_problem(temporary.get("/v1/jobs"), 401, "invalid_api_key")
        past = {"name": "past", "scopes": ["jobs:read"], "expires_at": int(time.time()) - 5}
        assert_problem(client.post("/v1/api_keys", json=past), 422, "invalid_expiry")

        old = client.post("/v1/api_keys", json={"name": "svc", "scopes": ["jobs:read"]}).json()
        rotated = client.post(f"/v1/api_keys/{old['id']}/rotate")
        assert rotated.status_code == 201, rotated.text
        new = rotated.json()
        assert new["rotated_from"] == old["id"] and new["scopes"] == ["jobs:read"]
        assert_problem(httpx.get(f"{sqlite_service.url}/v1/jobs", headers=_auth(old)), 401)
        assert httpx.get(f"{sqlite_service.url}/v1/jobs", headers=_auth(new)).status_code == 200

        graceful = client.post(
            f"/v1/api_keys/{new['id']}/rotate", json={"grace_seconds": 3600}
        ).json()
        assert httpx.get(f"{sqlite_service.url}/v1/jobs", headers=_auth(new)).status_code == 200
        assert client.get(f"/v1/api_keys/{new['id']}").json()["expires_at"] is not None
        assert graceful["rotated_from"] == new["id"]

        assert_problem(client.delete("/v1/api_keys/key_bootstrap_admin"), 404)
        actions = [e["action"] for e in client.get("/v1/audit/events?limit=100").json()["data"]]
    for action in ("api_key.created", "api_key.revoked", "api_key.rotated"):
        assert action in actions
    with sqlite_service.client() as platform:
        assert_problem(platform.delete("/v1/api_keys/key_bootstrap_admin"), 409, "bootstrap_key")


def _auth(key: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {key['secret']}"}


def test_sfd_keys_list_revoke_rotate(sqlite_service: Service) -> None:
    """`sfd keys` goes through the API, as the admin whose key it uses."""
    runner = CliRunner()
    options = ["--url", sqlite_service.url, "--api-key", sqlite_service.admin_key]
    created = runner.invoke(
        cli, ["keys", "create", "--tenant", "acme", "--scopes", "jobs:read", *options]
    )
    assert created.exit_code == 0, created.output
    key_id = created.output.split()[0]
    listed = runner.invoke(cli, ["keys", "list", "--tenant", "acme", *options])
    assert listed.exit_code == 0 and key_id in listed.output and "live" in listed.output
    rotated = runner.invoke(cli, ["keys", "rotate", key_id, *options])
    assert rotated.exit_code == 0, rotated.output
    new_id = rotated.output.split()[0]
    assert "sfd_" in rotated.output and new_id != key_id
    revoked = runner.invoke(cli, ["keys", "revoke", new_id, *options])
    assert revoked.exit_code == 0, revoked.output
    listed = runner.invoke(cli, ["keys", "list", "--tenant", "acme", *options])
    for made in (key_id, new_id):
        row = next(line for line in listed.output.splitlines() if made in line)
        assert "revoked" in row, listed.output
    assert runner.invoke(cli, ["keys", "revoke", "key_nope", *options]).exit_code == 1
    refused = runner.invoke(cli, ["keys", "create", "--scopes", "root", *options])
    assert refused.exit_code == 2 and "unknown scope" in refused.output
    log = runner.invoke(cli, ["audit", "verify", *options])
    assert log.exit_code == 0, log.output
