"""Forgetting verdicts: real jobs through the API on the embedded runner end with the engine's
verdict on the job, in the audit log and in the certificate, judged by the deployment's policy
and the job's own overrides; a job that misses the policy is never said to be removed. Also the
policy and probes checks (422 problem+json, SFD_FORGETTING_POLICY at start-up) and migration
0004 up and down on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from pydantic import ValidationError
from pydantic_settings import SettingsError

from domain.base_models.models import BaseModelRecord
from domain.db import Database
from domain.errors import Invalid
from domain.jobs.models import Job
from domain.jobs.validation import JobRequest, effective_policy, resolved_steps, validate
from domain.migrate import alembic_config, upgrade
from domain.settings import JOB_SETTINGS, Settings

from .support import ARTIFACTS, Service, assert_problem, start_service, submit, wait_for

DEPLOYMENT_POLICY = {"max_forget_rate": 0.01, "max_fd_ratio": 20.0}
LENIENT = {
    "max_forget_rate": 1,
    "max_attack_success": 1,
    "max_attack_over_reference": 1,
    "max_accuracy_drop": 1,
    "max_fd_ratio": 1000,
    "min_relearning_ratio": 0,
    "require_probes": False,
}
ONE_STEP = {"steps": 1, "eval_samples_per_class": 10}  # the generator is still the teacher


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A service whose deployment policy is stricter than the default on forget rate."""
    home = tmp_path_factory.mktemp("verdict-home")
    service = start_service(
        home, f"sqlite:///{home / 'sfd.db'}", forgetting_policy=DEPLOYMENT_POLICY
    )
    yield service
    service.server.stop()


@pytest.fixture(scope="module")
def jobs(judged: Service) -> dict[str, dict]:
    """Three one-step jobs run at once: default policy, lenient overrides, no probes."""
    with judged.client() as client:
        submitted = {
            "default": submit(client, **ONE_STEP),
            "lenient": submit(client, **ONE_STEP, policy=LENIENT),
            "unprobed": submit(client, **ONE_STEP, probes="off"),
        }
        return {name: wait_for(client, job["id"], {"succeeded"}) for name, job in submitted.items()}


def _report(service: Service, job_id: str) -> dict:
    with service.client() as client:
        return client.get(f"/v1/jobs/{job_id}/artifacts/report.json").json()


def _predicate(service: Service, job_id: str) -> dict:
    with service.client() as client:
        envelope = client.get(f"/v1/jobs/{job_id}/certificate").json()
    return json.loads(base64.b64decode(envelope["payload"]))["predicate"]


def test_unforgotten_job_has_its_verdict_everywhere(judged: Service, jobs: dict) -> None:
    job = jobs["default"]
    assert job["probes"] == "quick" and job["policy"] == {}
    assert job["verdict"] == "not_forgotten"
    assert "forget_rate" in job["failed_criteria"]  # one step: the concept is all still there
    report = _report(judged, job["id"])
    assert report["verdict"]["verdict"] == "not_forgotten"
    assert report["verdict"]["failed"] == job["failed_criteria"]
    assert report["verdict"]["policy"]["max_forget_rate"] == 0.01  # the deployment's layer
    assert report["robustness"]["budget"] == "quick" and report["robustness"]["attacks"]
    with judged.client() as client:
        listed = client.get(f"/v1/jobs/{job['id']}/artifacts").json()["data"]
        audit = client.get(
            "/v1/audit/events", params={"object_id": job["id"], "action": "job.verdict"}
        ).json()["data"]
    assert {a["name"] for a in listed} == ARTIFACTS
    assert [e["data"] for e in audit] == [
        {"verdict": "not_forgotten", "failed": job["failed_criteria"], "probes": "quick"}
    ]

    predicate = _predicate(judged, job["id"])
    assert predicate["statement"].startswith("Concept 0 was NOT shown to be removed from digits")
    assert "failed: " + ", ".join(job["failed_criteria"]) in predicate["statement"]
    assert predicate["verdict"]["verdict"] == "not_forgotten"
    assert predicate["verdict"]["failed"] == job["failed_criteria"]
    assert predicate["verdict"]["policy"] == report["verdict"]["policy"]
    assert {c["name"] for c in predicate["verdict"]["criteria"]} >= {"forget_rate"}
    certified = predicate["robustness"]
    assert certified["budget"] == "quick" and certified["seed"] == report["robustness"]["seed"]
    assert [(a["probe"], a["start"], a["asr"]) for a in certified["attacks"]] == [
        (a["probe"], a["start"], a["asr"]) for a in report["robustness"]["attacks"]
    ]


def test_job_policy_overrides_change_the_verdict(judged: Service, jobs: dict) -> None:
    job = jobs["lenient"]
    assert job["policy"] == {**LENIENT, "max_fd_ratio": 1000.0}
    assert job["verdict"] == "forgotten" and job["failed_criteria"] == []
    policy = _report(judged, job["id"])["verdict"]["policy"]
    assert policy["max_forget_rate"] == 1.0 and policy["max_fd_ratio"] == 1000.0  # job wins
    predicate = _predicate(judged, job["id"])
    assert predicate["statement"].startswith("Concept 0 removed from digits: forget rate")
    assert "attack" in predicate["statement"]
    assert predicate["verdict"]["policy"]["require_probes"] is False


def test_without_probes_the_default_policy_cannot_be_met(judged: Service, jobs: dict) -> None:
    job = jobs["unprobed"]
    assert job["probes"] == "off" and job["verdict"] == "not_forgotten"
    assert "attack_probes" in job["failed_criteria"]
    assert _report(judged, job["id"])["robustness"] is None
    with judged.client() as client:
        listed = client.get(f"/v1/jobs/{job['id']}/artifacts").json()["data"]
    assert {a["name"] for a in listed} == ARTIFACTS - {"robustness.png"}
    predicate = _predicate(judged, job["id"])
    assert predicate["robustness"] is None
    assert "NOT shown to be removed" in predicate["statement"]


BAD_REQUESTS = [
    {"probes": "thorough"},
    {"policy": {"max_forget_rate": 1.5}},
    {"policy": {"max_fd_ratio": 0.5}},
    {"policy": {"min_relearning_ratio": 11}},
    {"policy": {"max_attack_success": "0.1"}},
    {"policy": {"require_probes": "yes"}},
    {"policy": {"max_forget_rate": True}},
    {"policy": {"patience": 3}},
    {"policy": [0.1]},
]


@pytest.mark.parametrize("changes", BAD_REQUESTS, ids=[json.dumps(c) for c in BAD_REQUESTS])
def test_bad_probes_or_policy_is_a_problem(judged: Service, changes: dict) -> None:
    body = {"model": "digits", "unsafe_concept": "0", "safe_surrogate": "1", **changes}
    with judged.client() as client:
        before = client.get("/v1/jobs", params={"limit": 100}).json()["data"]
        problem = assert_problem(client.post("/v1/jobs", json=body), 422, "validation_error")
        assert client.get("/v1/jobs", params={"limit": 100}).json()["data"] == before
    assert problem["detail"]


def test_idempotency_covers_probes_and_policy(judged: Service) -> None:
    body = {**ONE_STEP, "model": "digits", "unsafe_concept": "0", "safe_surrogate": "1"}
    headers = {"Idempotency-Key": "verdict-fields"}
    with judged.client() as client:
        first = client.post("/v1/jobs", json={**body, "probes": "off"}, headers=headers)
        assert first.status_code == 201, first.text
        replay = client.post("/v1/jobs", json={**body, "probes": "off"}, headers=headers)
        assert replay.json()["id"] == first.json()["id"]
        for changed in ({"probes": "quick"}, {"probes": "off", "policy": {"max_fd_ratio": 9}}):
            response = client.post("/v1/jobs", json={**body, **changed}, headers=headers)
            assert_problem(response, 422, "idempotency_key_reused")


def test_domain_refuses_a_policy_the_engine_would(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, forgetting_policy=DEPLOYMENT_POLICY)
    model = BaseModelRecord(kind="class", class_names=[str(i) for i in range(10)])
    request = JobRequest(model="digits", unsafe=["0"], surrogate=["1"], policy={"typo": 1})
    with pytest.raises(Invalid) as refused:
        validate(request, model, settings)
    assert refused.value.code == "invalid_policy" and "typo" in refused.value.detail
    with pytest.raises(Invalid) as refused:
        validate(
            JobRequest(model="digits", unsafe=["0"], surrogate=["1"], probes="max"), model, settings
        )
    assert refused.value.code == "invalid_probes"
    overrides = {"max_fd_ratio": 9.0, "require_probes": False}
    assert effective_policy(settings, overrides) == {"max_forget_rate": 0.01, **overrides}


def test_a_request_naming_no_steps_runs_its_models_default_within_max_steps(
    tmp_path: Path,
) -> None:
    digits = BaseModelRecord(
        kind="class",
        class_names=[str(i) for i in range(10)],
        source_type="bundled",
        source="digits",
    )
    request = JobRequest(model="digits", unsafe=["0"], surrogate=["1"])
    assert resolved_steps(request, digits, Settings(home=tmp_path)) == 2000
    capped = Settings(home=tmp_path, max_steps=1000)
    assert resolved_steps(request, digits, capped) == 1000
    validate(request, digits, capped)  # the default never exceeds the deployment's bound


def test_deployment_policy_is_checked_at_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SFD_FORGETTING_POLICY", '{"max_forget_rate": 3}')
    with pytest.raises(ValidationError, match="SFD_FORGETTING_POLICY: policy max_forget_rate"):
        Settings(home=tmp_path)
    monkeypatch.setenv("SFD_FORGETTING_POLICY", '{"max_forget_rat": 0.1}')
    with pytest.raises(ValidationError, match="unknown policy field 'max_forget_rat'"):
        Settings(home=tmp_path)
    monkeypatch.setenv("SFD_FORGETTING_POLICY", "max_forget_rate=0.1")
    with pytest.raises(SettingsError, match="forgetting_policy"):
        Settings(home=tmp_path)
    monkeypatch.setenv("SFD_FORGETTING_POLICY", json.dumps(DEPLOYMENT_POLICY))
    monkeypatch.setenv("SFD_PROBES", "off")
    settings = Settings(home=tmp_path)
    assert settings.forgetting_policy == DEPLOYMENT_POLICY and settings.probes == "off"
    job_env = settings.to_env(only=JOB_SETTINGS)  # a job process judges by the same policy
    assert json.loads(job_env["SFD_FORGETTING_POLICY"]) == DEPLOYMENT_POLICY


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_migration_0004_up_and_down(
    backend: str, tmp_path: Path, pg_database: Callable[[], str]
) -> None:
    """Jobs from before 0004 read as unprobed and unjudged; down and up again keeps the rows."""
    url = pg_database() if backend == "postgres" else f"sqlite:///{tmp_path / 'sfd.db'}"
    upgrade(url, "0003_security")
    engine = sa.create_engine(url)
    columns = {c["name"] for c in sa.inspect(engine).get_columns("jobs")}
    assert not {"probes", "policy", "verdict"} & columns
    upgrade(url)
    db = Database(url)
    with db.session() as session:
        session.add(
            Job(
                id="job_old",
                tenant="acme",
                model_id="digits",
                unsafe=["0"],
                surrogate=["1"],
                surrogate_mode="fixed",
                steps=1,
                seed=0,
                eval_samples_per_class=1,
                hyperparameters={},
                options={},
                job_metadata={},
                request_sha256="0" * 64,
                probes="quick",
                policy={"max_fd_ratio": 9.0},
                verdict="forgotten",
                status="succeeded",
                progress_step=1,
                progress_total=1,
                attempt=1,
            )
        )
    command.downgrade(alembic_config(url), "0003_security")
    engine.dispose()
    columns = {c["name"] for c in sa.inspect(engine).get_columns("jobs")}
    assert not {"probes", "policy", "verdict"} & columns
    upgrade(url)
    with db.session() as session:
        job = session.get(Job, "job_old")
        assert job is not None and job.status == "succeeded"
        assert (job.probes, job.policy, job.verdict) == ("off", {}, None)
    db.dispose()
    engine.dispose()
