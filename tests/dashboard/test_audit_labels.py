"""Issue 13: who did what is in the audit log. Refused calls and failed dashboard sign-ins are
counted per source and minute (a flood adds a bounded number of rows), certificate views are
logged, and the certificate shows the job's metadata."""

from __future__ import annotations

import base64
import json

import httpx

from .conftest import Dashboard, sign_in


def _head(admin: httpx.Client) -> int:
    """The chain head's row, after writing out the refusal counts so far."""
    return admin.get("/v1/audit/verify", params={"full": "true"}).json()["chain"]["head_seq"]


def _events_since(admin: httpx.Client, action: str, after_seq: int) -> list[dict]:
    events = admin.get("/v1/audit/events", params={"action": action, "limit": 100}).json()
    return [e for e in events["data"] if e["id"] > after_seq]


def test_refusals_are_counted_per_source_and_minute(dashboard: Dashboard) -> None:
    service = dashboard.service
    reader = service.new_key("acme", ["jobs:read"])
    with service.client() as admin:
        before = _head(admin)
        for i in range(40):  # refused reads of the audit log must not write the counts out
            path = "/v1/jobs" if i % 2 else "/v1/audit/verify"
            bad = httpx.get(service.url + path, headers={"Authorization": "Bearer sfd_x"})
            assert bad.status_code == 401
        with service.client(reader) as limited:
            for _ in range(3):
                assert limited.get("/v1/audit/events").status_code == 403
        with dashboard.client() as browser:
            for _ in range(2):
                assert sign_in(browser, "sfd_not_a_key").status_code == 401
        refused = _events_since(admin, "auth.refused", before)
        after = _head(admin)
    anonymous = [e for e in refused if e["actor"] == "anonymous"]
    assert sum(e["data"]["count"] for e in anonymous) == 42
    assert all(e["object_id"] == "127.0.0.1" and e["actor_key_id"] is None for e in anonymous)
    assert {c for e in anonymous for c in e["data"]["codes"]} == {"401 invalid_api_key"}
    paths = {p for e in anonymous for p in e["data"]["paths"]}
    assert paths == {"/v1/jobs", "/v1/audit/verify", "/dashboard/login"}
    by_key = [e for e in refused if e["actor_key_id"] is not None]
    assert sum(e["data"]["count"] for e in by_key) == 3
    assert {c for e in by_key for c in e["data"]["codes"]} == {"403 insufficient_scope"}
    # 45 refusals, a handful of rows (two minutes at most: 4), and the chain still holds
    assert len(refused) <= 4 and after - before <= 4 + 1
    with service.client() as admin:
        assert admin.get("/v1/audit/verify", params={"full": "true"}).json()["valid"]


def test_certificate_views_are_logged_and_show_the_job_metadata(
    dashboard: Dashboard, officer: httpx.Client
) -> None:
    job_id = dashboard.succeeded
    with dashboard.service.client() as admin:
        before = _head(admin)
        envelope = admin.get(f"/v1/jobs/{job_id}/certificate").json()
        page = officer.get(f"/dashboard/jobs/{job_id}/certificate")
        assert page.status_code == 200
        viewed = _events_since(admin, "certificate.viewed", before)
    predicate = json.loads(base64.b64decode(envelope["payload"]))["predicate"]
    assert predicate["metadata"] == {"ticket": "DSR-42"}
    assert 'data-metadata="ticket">DSR-42<' in page.text
    assert {(e["object_id"], e["data"]["via"]) for e in viewed} == {
        (job_id, "api"),
        (job_id, "dashboard"),
    }
    assert all(e["actor_key_id"] for e in viewed)
