"""Findings 3 and 7 through the API, on PostgreSQL (app role) + S3: a certificate names the
signed chain head it was issued at; once the job's ``job.succeeded`` row is deleted behind
the triggers' back no certificate is issued; ``/v1/audit/verify`` shows a tenant only its own
events, and the whole chain's state to a platform admin only."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from domain.db import Database

from .support import S3_KEYS, Service, assert_problem, start_service, submit, wait_for


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory,
    pg_app_database: Callable[[], tuple[str, str]],
    s3_endpoint: str,
) -> Iterator[Service]:
    home = tmp_path_factory.mktemp("anchored-home")
    owner_url, app_url = pg_app_database()
    service = start_service(
        home,
        app_url,
        owner_url=owner_url,
        storage_url="s3://anchored/service",
        s3_endpoint=s3_endpoint,
        s3_secure=False,
        audit_checkpoint_seconds=0.5,
        **S3_KEYS,
    )
    yield service
    service.server.stop()


def test_tenant_scoped_verification_and_the_certificate_head(service: Service) -> None:
    globex = service.new_key("globex", ["jobs:read", "jobs:write", "audit:read"])
    with service.client() as admin, service.client(globex) as other:
        job = submit(admin, steps=3, eval_samples_per_class=2)
        theirs = submit(other, steps=20_000)
        other.post(f"/v1/jobs/{theirs['id']}/cancel")
        wait_for(admin, job["id"], {"succeeded"})
        certificate = admin.get(f"/v1/jobs/{job['id']}/certificate")
        assert certificate.status_code == 200, certificate.text
        predicate = json.loads(base64.b64decode(certificate.json()["payload"]))["predicate"]
        head = predicate["audit"]["head"]
        assert head["seq"] >= predicate["audit"]["seq"] and len(head["hash"]) == 64

        mine = other.get("/v1/audit/verify").json()
        globex_events = other.get("/v1/audit/events?limit=100").json()["data"]
        assert mine["valid"] and mine["chain"] is None
        assert mine["events"] == len(globex_events)
        assert mine["last_event_id"] == max(e["id"] for e in globex_events)
        assert_problem(other.get("/v1/audit/verify", params={"full": "true"}), 403)
        platform = admin.get("/v1/audit/verify", params={"full": "true"}).json()
        assert platform["valid"] and platform["chain"]["head_seq"] >= head["seq"]
        assert platform["chain"]["checkpoint"]["seq"] >= head["seq"]

    owner = Database(service.owner_url or "")
    try:
        with owner.session() as session:
            session.execute(sa.text("SET session_replication_role = replica"))
            session.execute(
                sa.text(
                    "DELETE FROM audit_events WHERE action = 'job.succeeded' AND object_id = :j"
                ),
                {"j": job["id"]},
            )
    finally:
        owner.dispose()
    with service.client() as admin, service.client(globex) as other:
        refused = admin.get(f"/v1/jobs/{job['id']}/certificate")
        assert_problem(refused, 409, "audit_unverifiable")
        theirs = other.get("/v1/audit/verify").json()
        assert not theirs["valid"] and theirs["first_broken_id"] is None
        assert "outside this tenant" in theirs["reason"]
        ours = admin.get("/v1/audit/verify").json()
        assert not ours["valid"] and ours["chain"]["first_broken_seq"] == predicate["audit"]["seq"]
