"""The storage interface, on a local folder and on S3 through the real minio client against
moto's S3 server on loopback; and models referenced by s3:// URI through the API."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from domain.settings import Settings
from domain.storage import ObjectNotFound, Storage, open_storage

from .support import S3_KEYS, Service


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    if request.param == "local":
        settings = Settings(home=tmp_path)
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        settings = Settings(
            home=tmp_path,
            storage_url=f"s3://bucket-{tmp_path.name.lower().replace('_', '-')[:40]}/pre/fix",
            s3_endpoint=endpoint,
            s3_secure=False,
            **S3_KEYS,
        )
    store = open_storage(settings)
    store.ensure()
    yield store


def test_round_trip(storage: Storage, tmp_path: Path) -> None:
    payload = bytes(range(256)) * 5000  # 1.28 MB: more than one chunk
    storage.put("jobs/j1/a/data.bin", io.BytesIO(payload), len(payload), "application/octet-stream")
    source = tmp_path / "report.json"
    source.write_text('{"ok": true}')
    storage.put_file("jobs/j1/a/report.json", source, "application/json")
    storage.check()

    assert storage.stat("jobs/j1/a/data.bin").size == len(payload)
    assert b"".join(storage.get_stream("jobs/j1/a/data.bin", chunk_size=65536)) == payload
    target = tmp_path / "copy.json"
    storage.download_file("jobs/j1/a/report.json", target)
    assert target.read_text() == '{"ok": true}'
    assert sorted(o.key for o in storage.list("jobs/j1/")) == [
        "jobs/j1/a/data.bin",
        "jobs/j1/a/report.json",
    ]
    assert list(storage.list("jobs/other/")) == []

    url = storage.presigned_get_url("jobs/j1/a/report.json", 60, "report.json")
    if url is not None:
        response = httpx.get(url)
        assert response.status_code == 200 and response.content == b'{"ok": true}'
        assert "report.json" in response.headers.get("content-disposition", "")

    storage.delete("jobs/j1/a/data.bin")
    with pytest.raises(ObjectNotFound):
        storage.stat("jobs/j1/a/data.bin")
    with pytest.raises(ObjectNotFound):
        storage.get_stream("jobs/j1/a/data.bin")
    for bad in ("../escape", "/abs", "a//b", ""):
        with pytest.raises(ValueError):
            storage.stat(bad)


def test_models_by_s3_uri(
    postgres_s3_service: Service, s3_endpoint: str, teacher_dir: Path, teacher_tar: Path
) -> None:
    settings = postgres_s3_service.settings
    models_store = open_storage(settings, "s3://teacher-models")
    models_store.ensure()
    models_store.put_file("archives/tiny.tar", teacher_tar, "application/x-tar")
    for file in teacher_dir.rglob("*"):
        if file.is_file():
            models_store.put_file(
                f"folders/tiny/{file.relative_to(teacher_dir).as_posix()}",
                file,
                "application/octet-stream",
            )
    with postgres_s3_service.client() as client:
        by_archive = client.post(
            "/v1/models", json={"uri": "s3://teacher-models/archives/tiny.tar"}
        )
        by_prefix = client.post(
            "/v1/models", json={"uri": "s3://teacher-models/folders/tiny", "name": "tiny"}
        )
        missing = client.post("/v1/models", json={"uri": "s3://teacher-models/folders/none"})
    assert by_archive.status_code == 201, by_archive.text
    assert by_prefix.status_code == 201, by_prefix.text
    assert by_archive.json()["sha256"] == by_prefix.json()["sha256"]
    assert by_prefix.json()["source_type"] == "uri" and by_prefix.json()["name"] == "tiny"
    assert missing.status_code == 422 and missing.json()["code"] == "model_not_found"
