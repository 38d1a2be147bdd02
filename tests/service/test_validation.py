"""Every bad input gets an RFC 9457 problem+json with a code and the request id, never a 500."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import httpx
import pytest

from .support import Service, assert_problem


@pytest.fixture(scope="module")
def model_id(sqlite_service: Service, teacher_tar: Path) -> str:
    with sqlite_service.client() as client:
        response = client.post(
            "/v1/models",
            content=teacher_tar.read_bytes(),
            headers={"Content-Type": "application/x-tar"},
        )
        assert response.status_code == 201, response.text
        return response.json()["id"]


def job_body(model_id: str, **changes: object) -> dict:
    body = {"model": model_id, "unsafe_concept": "0", "safe_surrogate": "1", "steps": 10}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


JOB_ERRORS = [
    ({"bogus": 1}, "validation_error"),
    ({"steps": "many"}, "validation_error"),
    ({"steps": 0}, "validation_error"),
    ({"steps": 10**9}, "invalid_steps"),
    ({"seed": -1}, "validation_error"),
    ({"unsafe_concept": []}, "validation_error"),
    ({"unsafe_concept": None}, "validation_error"),
    ({"unsafe_concept": "x" * 201}, "validation_error"),
    ({"unsafe_concept": "42"}, "invalid_forget_spec"),
    ({"safe_surrogate": "0"}, "invalid_forget_spec"),
    ({"safe_surrogate": None}, "invalid_forget_spec"),
    ({"unsafe_concept": ["0", "0"]}, "invalid_forget_spec"),
    ({"surrogate_mode": "sideways"}, "validation_error"),
    ({"surrogate_mode": "random"}, "invalid_forget_spec"),
    ({"hyperparameters": {"batch_size": 4096}}, "invalid_hyperparameters"),
    ({"hyperparameters": {"batch_size": 600}}, "invalid_hyperparameters"),
    ({"hyperparameters": {"warp_drive": 1}}, "invalid_hyperparameters"),
    ({"hyperparameters": {"alpha": -1}}, "invalid_hyperparameters"),
    ({"hyperparameters": {"alpha": "high"}}, "validation_error"),
    ({"hyperparameters": {"batch_size": 1.5}}, "invalid_hyperparameters"),
    ({"metadata": {f"k{i}": "v" for i in range(17)}}, "validation_error"),
    ({"metadata": {"k": 1}}, "validation_error"),
    ({"eval_samples_per_class": 0}, "validation_error"),
]


@pytest.mark.parametrize(("changes", "code"), JOB_ERRORS, ids=[c for _, c in JOB_ERRORS])
def test_bad_job_requests(sqlite_service: Service, model_id: str, changes: dict, code: str) -> None:
    with sqlite_service.client() as client:
        body = job_body(model_id, **changes)
        if "unsafe_concept" in changes and changes["unsafe_concept"] is None:
            body.pop("unsafe_concept", None)
        problem = assert_problem(client.post("/v1/jobs", json=body), 422, code)
    assert problem["detail"]


def test_unknown_model_is_404(sqlite_service: Service) -> None:
    with sqlite_service.client() as client:
        assert_problem(client.post("/v1/jobs", json=job_body("model_nope")), 404, "model_not_found")


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 422, "validation_error"),
        (b"[1, 2]", "application/json", 422, "validation_error"),
        (b"", "application/json", 422, "validation_error"),
        (b"model=digits", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ],
)
def test_malformed_job_bodies(
    sqlite_service: Service, content: bytes, content_type: str, status: int, code: str
) -> None:
    with sqlite_service.client() as client:
        response = client.post("/v1/jobs", content=content, headers={"Content-Type": content_type})
    assert_problem(response, status, code)


def test_body_size_limits(sqlite_service: Service, model_id: str) -> None:
    limit = sqlite_service.settings.max_body_bytes
    padded = job_body(model_id, metadata={"pad": "x" * 500})
    padded["hyperparameters"] = {f"h{i}": 1 for i in range(limit // 8)}
    with sqlite_service.client() as client:
        assert_problem(client.post("/v1/jobs", json=padded), 413, "payload_too_large")

        def chunks():  # no Content-Length: counted while reading
            yield b'{"model": "'
            for _ in range(limit // 1024 + 2):
                yield b"x" * 1024
            yield b'"}'

        response = client.post(
            "/v1/jobs", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert_problem(response, 413, "payload_too_large")


def _tar(members: dict[str, bytes], symlink: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        if symlink:
            info = tarfile.TarInfo(symlink)
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            archive.addfile(info)
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


UPLOAD_ERRORS = [
    ("traversal", _tar({"../evil.json": b"{}"}), "application/x-tar", 422, "invalid_archive"),
    ("absolute", _tar({"/etc/evil.json": b"{}"}), "application/x-tar", 422, "invalid_archive"),
    (
        "symlink",
        _tar({"config.json": b"{}"}, symlink="weights.safetensors"),
        "application/x-tar",
        422,
        "invalid_archive",
    ),
    (
        "pickle",
        _tar({"config.json": b"{}", "model.bin": b"x"}),
        "application/x-tar",
        422,
        "pickle_refused",
    ),
    ("zip-pickle", _zip({"unet/model.ckpt": b"x"}), "application/zip", 422, "pickle_refused"),
    ("zip-traversal", _zip({"../../x.json": b"{}"}), "application/zip", 422, "invalid_archive"),
    ("script", _tar({"run.py": b"print(1)"}), "application/x-tar", 422, "invalid_archive"),
    ("garbage", b"this is not an archive", "application/x-tar", 422, "invalid_archive"),
    ("empty", b"", "application/x-tar", 422, "invalid_archive"),
    ("no-weights", _tar({"config.json": b"{}"}), "application/x-tar", 422, "invalid_model"),
    (
        "bad-config",
        _tar({"config.json": b"{nope", "diffusion_pytorch_model.safetensors": b"x"}),
        "application/x-tar",
        422,
        "invalid_model",
    ),
    ("media-type", b"hello", "text/plain", 415, "unsupported_media_type"),
]


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [case[1:] for case in UPLOAD_ERRORS],
    ids=[case[0] for case in UPLOAD_ERRORS],
)
def test_bad_model_uploads(
    sqlite_service: Service, content: bytes, content_type: str, status: int, code: str
) -> None:
    with sqlite_service.client() as client:
        response = client.post(
            "/v1/models", content=content, headers={"Content-Type": content_type}
        )
    assert_problem(response, status, code)


REFERENCE_ERRORS = [
    ({}, "validation_error"),
    ({"uri": "s3://b/k", "path": "/x"}, "validation_error"),
    ({"uri": "http://example.com/m.tar"}, "invalid_uri"),
    ({"uri": "s3://bucket-only"}, "invalid_uri"),
    ({"uri": "s3://models/teacher.tar"}, "uri_not_allowed"),
    ({"uri": "s3://models/a/../b.tar"}, "invalid_uri"),
    ({"path": "/etc"}, "path_not_allowed"),
    ({"path": "relative/../../etc"}, "path_not_allowed"),
    ({"path": "/x", "extra": True}, "validation_error"),
]


@pytest.mark.parametrize(("body", "code"), REFERENCE_ERRORS, ids=[c for _, c in REFERENCE_ERRORS])
def test_bad_model_references(sqlite_service: Service, body: dict, code: str) -> None:
    with sqlite_service.client() as client:
        assert_problem(client.post("/v1/models", json=body), 422, code)


def test_upload_size_limit(tmp_path: Path, teacher_tar: Path) -> None:
    from .support import start_service

    service = start_service(tmp_path, f"sqlite:///{tmp_path / 'sfd.db'}", max_upload_bytes=4096)
    try:
        with service.client() as client:
            response = client.post(
                "/v1/models",
                content=teacher_tar.read_bytes(),
                headers={"Content-Type": "application/x-tar"},
            )
            assert_problem(response, 413, "payload_too_large")
    finally:
        service.server.stop()


def test_auth_errors(sqlite_service: Service) -> None:
    reader = sqlite_service.new_key("acme", ["jobs:read"])
    with httpx.Client(base_url=sqlite_service.url) as anonymous:
        problem = assert_problem(anonymous.get("/v1/jobs"), 401, "unauthorized")
        assert "Bearer" in anonymous.get("/v1/jobs").headers["www-authenticate"]
        assert problem["instance"] == "/v1/jobs"
        bad = anonymous.get("/v1/jobs", headers={"Authorization": "Bearer sfd_wrong"})
        assert_problem(bad, 401, "invalid_api_key")
        assert_problem(anonymous.get("/v1/jobs", headers={"Authorization": "Basic eDp5"}), 401)
    with sqlite_service.client(reader) as client:
        assert client.get("/v1/jobs").status_code == 200
        assert_problem(client.post("/v1/jobs", json={}), 403, "insufficient_scope")
        assert_problem(client.post("/v1/models", json={"path": "/x"}), 403, "insufficient_scope")
        assert_problem(client.get("/v1/audit/verify"), 403, "insufficient_scope")
        assert_problem(client.post("/v1/api_keys", json={"name": "x", "scopes": ["admin"]}), 403)


def test_routing_and_query_errors(sqlite_service: Service) -> None:
    with sqlite_service.client() as client:
        assert_problem(client.get("/v1/nothing"), 404, "not_found")
        assert_problem(client.delete("/v1/jobs"), 405, "method_not_allowed")
        assert_problem(client.put("/v1/models"), 405, "method_not_allowed")
        assert_problem(client.get("/v1/jobs", params={"limit": 0}), 422, "validation_error")
        assert_problem(client.get("/v1/jobs", params={"limit": 101}), 422, "validation_error")
        assert_problem(
            client.get("/v1/jobs", params={"status": "sleeping"}), 422, "validation_error"
        )
        assert_problem(client.get("/v1/jobs/job_missing"), 404, "job_not_found")
        assert_problem(client.post("/v1/jobs/job_missing/cancel"), 404, "job_not_found")
        assert_problem(client.get("/v1/jobs/job_missing/events"), 404, "job_not_found")
        assert_problem(client.get("/v1/jobs/job_missing/events", params={"after": -1}), 422)
        events = client.get("/v1/jobs/job_x/events", headers={"Last-Event-ID": "abc"})
        assert_problem(events, 422, "validation_error")
        assert_problem(client.get("/v1/jobs/job_missing/artifacts"), 404, "job_not_found")
        assert_problem(client.get("/v1/jobs/job_missing/artifacts/report.json"), 404)
        assert_problem(client.get("/v1/models/model_missing"), 404, "model_not_found")
        assert_problem(client.get("/v1/audit/events", params={"after": "x"}), 422)
        key_errors = [
            {"name": "k", "scopes": ["root"]},
            {"name": "k", "scopes": []},
            {"name": "k", "scopes": ["jobs:read"], "tenant": "bad tenant!"},
        ]
        for body in key_errors:
            assert_problem(client.post("/v1/api_keys", json=body), 422)


def test_idempotency_key_must_be_sane(sqlite_service: Service, model_id: str) -> None:
    with sqlite_service.client() as client:
        response = client.post(
            "/v1/jobs", json=job_body(model_id), headers={"Idempotency-Key": "x" * 300}
        )
    assert_problem(response, 422, "invalid_idempotency_key")


def test_request_id_is_echoed_or_made(sqlite_service: Service) -> None:
    with httpx.Client(base_url=sqlite_service.url) as client:
        assert (
            client.get("/healthz", headers={"X-Request-Id": "abc-123"}).headers["x-request-id"]
            == "abc-123"
        )
        made = client.get("/healthz", headers={"X-Request-Id": "bad id with spaces"})
        assert made.headers["x-request-id"].startswith("req_")
        ready = client.get("/readyz").json()
    assert ready == {"status": "ok", "database": "ok", "storage": "ok"}
