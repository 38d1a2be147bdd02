"""Every dashboard route over real HTTP: sign-in, CSRF, tenant isolation, each job state."""

from __future__ import annotations

import csv
import io
import json
import re

import httpx
import pytest
from markupsafe import escape

from .conftest import CSRF, Dashboard, sign_in

PAGES = [
    "/dashboard/jobs",
    "/dashboard/models",
    "/dashboard/audit",
    "/dashboard/audit/export.csv",
    "/dashboard/audit/export.json",
]


def job_pages(job_id: str) -> list[str]:
    return [
        f"/dashboard/jobs/{job_id}",
        f"/dashboard/jobs/{job_id}/samples.png",
        f"/dashboard/jobs/{job_id}/robustness.png",
        f"/dashboard/jobs/{job_id}/artifacts/report.json",
        f"/dashboard/jobs/{job_id}/certificate",
        f"/dashboard/jobs/{job_id}/certificate.json",
    ]


def test_every_page_requires_a_session(dashboard: Dashboard) -> None:
    with dashboard.client() as anonymous:
        for path in PAGES + job_pages(dashboard.succeeded):
            response = anonymous.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/dashboard/login?next=")
        assert anonymous.get("/dashboard").headers["location"] == "/dashboard/jobs"
        progress = anonymous.get("/dashboard/jobs/progress", params={"ids": dashboard.succeeded})
        assert progress.status_code == 401
        assert dashboard.succeeded not in progress.text
        anonymous.cookies.set("sfd_session", "e30.forged", path="/dashboard")
        assert anonymous.get("/dashboard/jobs").status_code == 303


def test_sign_in_sets_a_strict_httponly_cookie(dashboard: Dashboard) -> None:
    with dashboard.client() as client:
        response = sign_in(client, dashboard.officer_key)
        assert response.status_code == 303
        assert response.headers["location"] == "/dashboard/jobs"
        cookie = response.headers["set-cookie"]
        assert "sfd_session=" in cookie and "HttpOnly" in cookie
        assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
        assert dashboard.officer_key not in cookie
        page = client.get("/dashboard/jobs")
        assert page.status_code == 200
        assert "default-src 'self'" in page.headers["content-security-policy"]


def test_sign_in_goes_back_to_the_requested_page(dashboard: Dashboard) -> None:
    with dashboard.client() as client:
        form = client.get("/dashboard/login", params={"next": "/dashboard/models"})
        token = CSRF.search(form.text).group(1)
        data = {"api_key": dashboard.officer_key, "csrf": token, "next": "/dashboard/models"}
        assert client.post("/dashboard/login", data=data).headers["location"] == "/dashboard/models"
        form = client.get("/dashboard/login")
        token = CSRF.search(form.text).group(1)
        data = {"api_key": dashboard.officer_key, "csrf": token, "next": "https://evil.test/"}
        assert client.post("/dashboard/login", data=data).headers["location"] == "/dashboard/jobs"


@pytest.mark.parametrize("which", ["invalid", "no audit scope"])
def test_sign_in_refuses_bad_keys(dashboard: Dashboard, which: str) -> None:
    key = "sfd_not_a_key" if which == "invalid" else dashboard.reader_key
    with dashboard.client() as client:
        response = sign_in(client, key)
        assert response.status_code == (401 if which == "invalid" else 403)
        assert "sfd_session" not in response.cookies
        assert "not valid" in response.text or "audit:read" in response.text
        assert client.get("/dashboard/jobs").status_code == 303


def test_login_and_logout_forms_are_csrf_safe(dashboard: Dashboard) -> None:
    with dashboard.client() as client:
        client.get("/dashboard/login")
        data = {"api_key": dashboard.officer_key, "csrf": "guessed"}
        assert client.post("/dashboard/login", data=data).status_code == 403
        token = CSRF.search(client.get("/dashboard/login").text).group(1)
        data = {"api_key": dashboard.officer_key, "csrf": token}
        other_site = client.post(
            "/dashboard/login", data=data, headers={"Origin": "https://evil.test"}
        )
        assert other_site.status_code == 403
    with dashboard.signed_in() as client:
        assert client.post("/dashboard/logout", data={"csrf": "guessed"}).status_code == 403
        assert client.get("/dashboard/jobs").status_code == 200
        token = CSRF.search(client.get("/dashboard/jobs").text).group(1)
        response = client.post("/dashboard/logout", data={"csrf": token})
        assert response.status_code == 303
        assert client.get("/dashboard/jobs").status_code == 303


def test_jobs_table_filters_and_pages(dashboard: Dashboard, officer: httpx.Client) -> None:
    page = officer.get("/dashboard/jobs")
    assert page.status_code == 200
    for job_id in (dashboard.succeeded, dashboard.failed, dashboard.cancelled):
        assert job_id in page.text
    assert "bootstrap admin" in page.text
    assert "succeeded" in page.text and "failed" in page.text and "cancelled" in page.text
    only_failed = officer.get("/dashboard/jobs", params={"state": "failed"}).text
    assert dashboard.failed in only_failed and dashboard.succeeded not in only_failed
    digits = officer.get("/dashboard/jobs", params={"model": "digits"}).text
    assert dashboard.succeeded in digits and dashboard.failed not in digits
    future = officer.get("/dashboard/jobs", params={"created_from": "2999-01-01"}).text
    assert "No jobs match these filters" in future
    past = officer.get("/dashboard/jobs", params={"created_to": "2000-01-01"}).text
    assert dashboard.succeeded not in past
    first = officer.get("/dashboard/jobs", params={"after": dashboard.succeeded}).text
    assert dashboard.succeeded not in first and dashboard.cancelled in first


def test_progress_feed(dashboard: Dashboard, officer: httpx.Client) -> None:
    ids = ",".join([dashboard.succeeded, dashboard.other_job, "job_missing"])
    feed = officer.get("/dashboard/jobs/progress", params={"ids": ids}).json()
    assert list(feed) == [dashboard.succeeded]
    assert feed[dashboard.succeeded]["status"] == "succeeded"
    assert feed[dashboard.succeeded]["step"] == feed[dashboard.succeeded]["total"] == 12


def test_succeeded_job_page(dashboard: Dashboard, officer: httpx.Client) -> None:
    page = officer.get(f"/dashboard/jobs/{dashboard.succeeded}")
    assert page.status_code == 200
    text = page.text
    for expected in (
        'id="metrics-table"',
        'id="samples-grid"',
        'id="per-class-table"',
        'id="artifacts-table"',
        "generator.tar",
        "report.json",
        "<svg",
        'class="series"',
        "Training losses",
        "queued → running",
        "running → succeeded",
        "DSR-42",
        "View certificate",
    ):
        assert expected in text, expected
    image = officer.get(f"/dashboard/jobs/{dashboard.succeeded}/samples.png")
    assert image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")


def _row(page: str, job_id: str) -> str:
    return next(row for row in re.findall(r"<tr.*?</tr>", page, re.S) if job_id in row)


def test_verdict_badges_criteria_and_attacks(dashboard: Dashboard, officer: httpx.Client) -> None:
    with dashboard.service.client() as admin:
        job = admin.get(f"/v1/jobs/{dashboard.succeeded}").json()
        report = admin.get(f"/v1/jobs/{dashboard.succeeded}/artifacts/report.json").json()
    assert job["verdict"] == report["verdict"]["verdict"]
    badge = "verdict-" + job["verdict"].replace("_", "-")
    listing = officer.get("/dashboard/jobs").text
    assert badge in _row(listing, dashboard.succeeded)
    assert "verdict-" not in _row(listing, dashboard.failed)

    page = officer.get(f"/dashboard/jobs/{dashboard.succeeded}").text
    section = page[page.index('id="verdict-section"') : page.index("Did it work?")]
    assert badge in section
    criteria = _section_table(section, "criteria-table")
    for criterion in report["verdict"]["criteria"]:
        row = _row(criteria, f'<td class="mono">{escape(criterion["name"])}</td>')
        assert ("<td>yes</td>" if criterion["passed"] else "<td>no</td>") in row
    attacks = _section_table(section, "attacks-table")
    for attack in report["robustness"]["attacks"]:
        row = _row(attacks, f"<td>{escape(attack['probe'])}</td><td>{escape(attack['start'])}</td>")
        assert f"{attack['asr'] * 100:.1f}%" in row
    if report["robustness"]["relearning"]:
        assert 'id="relearning-table"' in section
    assert 'id="robustness-grid"' in section
    image = officer.get(f"/dashboard/jobs/{dashboard.succeeded}/robustness.png")
    assert image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")
    assert officer.get(f"/dashboard/jobs/{dashboard.failed}/robustness.png").status_code == 404


def _section_table(page: str, table_id: str) -> str:
    start = page.index(f'id="{table_id}"')
    return page[start : page.index("</table>", start)]


def test_artifact_download_is_audited(dashboard: Dashboard, officer: httpx.Client) -> None:
    with dashboard.service.client() as admin:
        listed = admin.get(f"/v1/jobs/{dashboard.succeeded}/artifacts").json()["data"]
    expected = {a["name"]: a["sha256"] for a in listed}
    response = officer.get(f"/dashboard/jobs/{dashboard.succeeded}/artifacts/report.json")
    assert response.status_code == 200
    assert response.headers["etag"] == f'"{expected["report.json"]}"'
    assert "attachment" in response.headers["content-disposition"]
    assert json.loads(response.content)["generator_sha256"]
    audit = officer.get("/dashboard/audit", params={"action": "artifact.downloaded"}).text
    assert "dashboard" in audit and dashboard.succeeded in audit
    missing = officer.get(f"/dashboard/jobs/{dashboard.succeeded}/artifacts/nothing.bin")
    assert missing.status_code == 404


def test_failed_job_page_shows_the_error(dashboard: Dashboard, officer: httpx.Client) -> None:
    page = officer.get(f"/dashboard/jobs/{dashboard.failed}")
    assert page.status_code == 200
    assert 'id="job-error"' in page.text and "model_changed" in page.text
    assert "No artifacts: the job did not succeed" in page.text
    assert "View certificate" not in page.text
    certificate = officer.get(f"/dashboard/jobs/{dashboard.failed}/certificate")
    assert certificate.status_code == 404
    assert "only succeeded jobs" in certificate.text


def test_cancelled_job_page(dashboard: Dashboard, officer: httpx.Client) -> None:
    page = officer.get(f"/dashboard/jobs/{dashboard.cancelled}")
    assert page.status_code == 200
    assert 'id="job-cancelled"' in page.text
    assert "queued → cancelled" in page.text
    assert officer.get(f"/dashboard/jobs/{dashboard.cancelled}/samples.png").status_code == 404


def test_models_page(dashboard: Dashboard, officer: httpx.Client) -> None:
    page = officer.get("/dashboard/models").text
    assert "digits" in page and "vanishing" in page
    assert "/dashboard/jobs?model=digits" in page
    with dashboard.service.client() as admin:
        digits = admin.get("/v1/models/digits").json()
    assert digits["sha256"] in page


def test_audit_page_search_and_verification(dashboard: Dashboard, officer: httpx.Client) -> None:
    page = officer.get("/dashboard/audit").text
    assert "Chain verified" in page
    assert "dashboard.signed_in" in page
    found = officer.get("/dashboard/audit", params={"object_id": dashboard.failed}).text
    assert "job.failed" in found and "job.succeeded" not in found
    by_actor = officer.get("/dashboard/audit", params={"actor": "worker:"}).text
    assert "job.started" in by_actor and "job.created" not in by_actor
    nothing = officer.get("/dashboard/audit", params={"date_to": "2000-01-01"}).text
    assert "No audit events match" in nothing


def test_audit_exports(dashboard: Dashboard, officer: httpx.Client) -> None:
    params = {"action": "job."}
    exported = officer.get("/dashboard/audit/export.csv", params=params)
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert rows and all(row["action"].startswith("job.") for row in rows)
    assert {dashboard.succeeded, dashboard.failed} <= {row["object_id"] for row in rows}
    assert [int(r["seq"]) for r in rows] == sorted(int(r["seq"]) for r in rows)
    document = officer.get("/dashboard/audit/export.json", params=params).json()
    assert [e["id"] for e in document["data"]] == [int(r["seq"]) for r in rows]
    assert all(len(e["hash"]) == 64 for e in document["data"])
    log = officer.get("/dashboard/audit", params={"action": "audit.exported"}).text
    assert "audit.exported" in log


def test_tenants_never_see_each_other(dashboard: Dashboard) -> None:
    with dashboard.signed_in(dashboard.other_key) as other:
        jobs = other.get("/dashboard/jobs").text
        assert dashboard.other_job in jobs
        for job_id in (dashboard.succeeded, dashboard.failed, dashboard.cancelled):
            assert job_id not in jobs
            for path in job_pages(job_id):
                assert other.get(path).status_code == 404, path
        models = other.get("/dashboard/models").text
        assert "digits" in models and "vanishing" not in models
        audit = other.get("/dashboard/audit").text
        assert dashboard.succeeded not in audit and dashboard.other_job in audit
        exported = other.get("/dashboard/audit/export.json").json()["data"]
        assert {e["object_id"] for e in exported}.isdisjoint({dashboard.succeeded})
    with dashboard.signed_in() as officer:
        assert officer.get(f"/dashboard/jobs/{dashboard.other_job}").status_code == 404
        assert dashboard.other_job not in officer.get("/dashboard/jobs").text


def test_empty_states(dashboard: Dashboard) -> None:
    key = dashboard.service.new_key("initech", ["audit:read"])
    with dashboard.signed_in(key) as client:
        assert "No jobs yet" in client.get("/dashboard/jobs").text
        audit = client.get("/dashboard/audit").text
        assert "Chain verified" in audit and "dashboard.signed_in" in audit
        models = client.get("/dashboard/models").text
        assert "digits" in models
        assert client.get("/dashboard/jobs/job_nope").status_code == 404
