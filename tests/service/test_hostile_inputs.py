"""Findings 8 and 9, on SQLite and on PostgreSQL + S3: non-finite or out-of-range
hyperparameters are a 422 and free the Idempotency-Key; any failure frees it; malformed
uploads, names, cursors and NUL bytes are 4xx problems that name no server path; a failed
upload leaves nothing in storage."""

from __future__ import annotations

import io
import struct
import tarfile
import zipfile
from pathlib import Path

import pytest

from domain.audit import service as audit_service
from domain.storage import open_storage

from .support import Service, assert_problem, upload_teacher

NON_FINITE = ["NaN", "Infinity", "-Infinity"]
OUT_OF_RANGE = [
    {"rho": 0},
    {"sigma_data": -0.5},
    {"p_std": 0},
    {"alpha": 1e300},
    {"sigma_max": 1e9},
    {"adam_eps": 0},
]


def _job(model: str, hyperparameters: str) -> bytes:
    return (
        f'{{"model": "{model}", "unsafe_concept": "0", "safe_surrogate": "1", "steps": 5, '
        f'"hyperparameters": {hyperparameters}}}'
    ).encode()


def _no_server_paths(service: Service, body: dict) -> None:
    text = str(body)
    for fragment in (str(service.settings.home), "/tmp", "staging", "site-packages", ".py"):
        assert fragment not in text, body


@pytest.mark.parametrize("value", NON_FINITE)
def test_non_finite_hyperparameters_are_refused(service: Service, value: str) -> None:
    headers = {"Content-Type": "application/json", "Idempotency-Key": f"nf-{value}"}
    with service.client() as client:
        bad = client.post(
            "/v1/jobs", content=_job("digits", f'{{"alpha": {value}}}'), headers=headers
        )
        assert_problem(bad, 422, "validation_error")
        good = client.post(
            "/v1/jobs", content=_job("digits", '{"alpha": 1.5}'), headers=headers
        )  # the same key, now with a good body: not a 409
        assert good.status_code == 201, good.text
        assert good.json()["hyperparameters"] == {"alpha": 1.5}
        client.post(f"/v1/jobs/{good.json()['id']}/cancel")


@pytest.mark.parametrize("hp", OUT_OF_RANGE, ids=[next(iter(h)) for h in OUT_OF_RANGE])
def test_out_of_range_hyperparameters_are_refused(sqlite_service: Service, hp: dict) -> None:
    body = {"model": "digits", "unsafe_concept": "0", "safe_surrogate": "1", "hyperparameters": hp}
    with sqlite_service.client() as client:
        problem = assert_problem(client.post("/v1/jobs", json=body), 422, "invalid_hyperparameters")
    assert next(iter(hp)) in problem["detail"]


def test_any_failure_frees_the_idempotency_key(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected error (not a domain error) while the job is written: 500, and the retry
    with the same key is served, not refused for 24 h."""
    calls = {"n": 0}
    record = audit_service.record

    def failing_once(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the database went away")
        return record(*args, **kwargs)  # type: ignore[arg-type]

    body = {"model": "digits", "unsafe_concept": "0", "safe_surrogate": "1", "steps": 5}
    headers = {"Idempotency-Key": "unexpected-failure"}
    with service.client() as client:
        monkeypatch.setattr(audit_service, "record", failing_once)
        assert_problem(client.post("/v1/jobs", json=body, headers=headers), 500, "internal_error")
        monkeypatch.setattr(audit_service, "record", record)
        retry = client.post("/v1/jobs", json=body, headers=headers)
        assert retry.status_code == 201, retry.text
        client.post(f"/v1/jobs/{retry.json()['id']}/cancel")


NUL_REQUESTS = [
    (
        "POST",
        "/v1/jobs",
        {
            "json": {
                "model": "digits",
                "unsafe_concept": "0",
                "safe_surrogate": "1",
                "metadata": {"k": "a\x00b"},
            }
        },
    ),
    ("POST", "/v1/jobs", {"json": {"model": "dig\x00its", "unsafe_concept": "0"}}),
    ("POST", "/v1/api_keys", {"json": {"name": "a\x00", "scopes": ["jobs:read"]}}),
    ("GET", "/v1/jobs/job_%00", {}),
    ("GET", "/v1/jobs", {"params": {"after": "job_\x00"}}),
    ("GET", "/v1/audit/events", {"params": {"object_id": "\x00"}}),
    (
        "POST",
        "/v1/models",
        {
            "params": {"name": "a\x00b"},
            "content": b"x",
            "headers": {"Content-Type": "application/x-tar"},
        },
    ),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), NUL_REQUESTS)
def test_nul_bytes_are_a_422(service: Service, method: str, path: str, kwargs: dict) -> None:
    with service.client() as client:
        assert_problem(client.request(method, path, **kwargs), 422)


def test_huge_cursors_are_a_422(service: Service) -> None:
    with service.client() as client:
        for path in ("/v1/audit/events", "/v1/jobs/job_x/events"):
            assert_problem(client.get(path, params={"after": 10**30}), 422, "validation_error")
        events = client.get("/v1/jobs/job_x/events", headers={"Last-Event-ID": str(10**30)})
        assert_problem(events, 422, "validation_error")
        assert client.get("/v1/audit/events", params={"after": 2**63 - 1}).status_code == 200


def _tar(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _teacher_files(teacher_dir: Path) -> dict[str, bytes]:
    return {
        p.relative_to(teacher_dir).as_posix(): p.read_bytes()
        for p in teacher_dir.rglob("*")
        if p.is_file()
    }


def _bad_uploads(teacher_dir: Path) -> dict[str, tuple[bytes, str]]:
    files = _teacher_files(teacher_dir)
    weights = next(name for name in files if name.endswith(".safetensors"))
    huge_header = struct.pack("<Q", 10**12) + b"{"
    bad_json = struct.pack("<Q", 6) + b"{nope}" + b"\0" * 16
    return {
        "safetensors-header-too-large": (
            _tar({**files, weights: huge_header}),
            "application/x-tar",
        ),
        "safetensors-header-not-json": (_tar({**files, weights: bad_json}), "application/x-tar"),
        "long-zip-name": (_zip({"a" * 300 + ".json": b"{}"}), "application/zip"),
        "long-zip-path": (_zip({"/".join(["d" * 200] * 8) + ".json": b"{}"}), "application/zip"),
        "nul-zip-name": (_zip({"con\x00fig.json": b"{}"}), "application/zip"),
        "truncated-zip": (_zip(files)[:-40], "application/zip"),
        "truncated-tar": (_tar(files)[:2000], "application/x-tar"),
    }


CASES = [
    "safetensors-header-too-large",
    "safetensors-header-not-json",
    "long-zip-name",
    "long-zip-path",
    "nul-zip-name",
    "truncated-zip",
    "truncated-tar",
]


@pytest.mark.parametrize("case", CASES)
def test_malformed_uploads_are_4xx_without_server_paths(
    service: Service, teacher_dir: Path, case: str
) -> None:
    content, content_type = _bad_uploads(teacher_dir)[case]
    store = open_storage(service.settings)
    before = {o.key for o in store.list("models/")}
    with service.client() as client:
        response = client.post(
            "/v1/models", content=content, headers={"Content-Type": content_type}
        )
    assert 400 <= response.status_code < 500, response.text
    body = assert_problem(response, response.status_code)
    _no_server_paths(service, body)
    assert {o.key for o in store.list("models/")} == before


def test_a_failed_upload_leaves_nothing_in_storage(
    postgres_s3_service: Service, teacher_tar: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database write fails after the archive was stored: the archive is removed."""
    store = open_storage(postgres_s3_service.settings)
    before = {o.key for o in store.list("models/")}

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database went away")

    with postgres_s3_service.client() as client:
        monkeypatch.setattr(audit_service, "record", broken)
        response = client.post(
            "/v1/models",
            content=teacher_tar.read_bytes(),
            headers={"Content-Type": "application/x-tar"},
        )
        monkeypatch.undo()
        assert_problem(response, 500, "internal_error")
        assert {o.key for o in store.list("models/")} == before
        model = upload_teacher(client, teacher_tar)
    assert {o.key for o in store.list("models/")} == before | {f"models/{model['id']}/model.tar"}
