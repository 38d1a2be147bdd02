"""Objects in an S3-compatible service (MinIO, AWS S3, Ceph) through the minio client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from minio import Minio
from minio.error import S3Error

from domain.settings import Settings
from domain.storage.base import CHUNK, ObjectInfo, ObjectNotFound, check_key

MISSING = {"NoSuchKey", "NoSuchObject", "NoSuchBucket"}
PART_SIZE = 16 << 20


class S3Storage:
    def __init__(self, client: Minio, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    @classmethod
    def from_settings(cls, settings: Settings, bucket: str, prefix: str = "") -> S3Storage:
        if not settings.s3_endpoint:
            raise ValueError("an s3:// storage URL needs SFD_S3_ENDPOINT (host:port)")
        client = Minio(
            settings.s3_endpoint,
            access_key=settings.s3_access_key.get_secret_value()
            if settings.s3_access_key
            else None,
            secret_key=settings.s3_secret_key.get_secret_value()
            if settings.s3_secret_key
            else None,
            secure=settings.s3_secure,
            region=settings.s3_region,
        )
        return cls(client, bucket, prefix)

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    def ensure(self) -> None:
        if not self.client.bucket_exists(self.bucket):
            self.client.make_bucket(self.bucket)

    def check(self) -> None:
        if not self.client.bucket_exists(self.bucket):
            raise OSError(f"bucket {self.bucket!r} does not exist")

    def put(self, key: str, stream: BinaryIO, size: int, content_type: str) -> None:
        self.client.put_object(
            self.bucket,
            self._name(key),
            stream,
            size,
            content_type=content_type,
            part_size=PART_SIZE,
        )

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        self.client.fput_object(self.bucket, self._name(key), str(path), content_type=content_type)

    def get_stream(self, key: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        try:
            response = self.client.get_object(self.bucket, self._name(key))
        except S3Error as exc:
            if exc.code in MISSING:
                raise ObjectNotFound(key) from None
            raise
        return _stream(response, chunk_size)

    def download_file(self, key: str, path: Path) -> None:
        with path.open("wb") as out:
            for chunk in self.get_stream(key):
                out.write(chunk)

    def stat(self, key: str) -> ObjectInfo:
        try:
            info = self.client.stat_object(self.bucket, self._name(key))
        except S3Error as exc:
            if exc.code in MISSING:
                raise ObjectNotFound(key) from None
            raise
        return ObjectInfo(key, int(info.size or 0))

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        for obj in self.client.list_objects(
            self.bucket, prefix=self.prefix + prefix, recursive=True
        ):
            if obj.object_name is not None and not obj.is_dir:
                yield ObjectInfo(obj.object_name[len(self.prefix) :], int(obj.size or 0))

    def delete(self, key: str) -> None:
        self.client.remove_object(self.bucket, self._name(key))

    def presigned_get_url(self, key: str, ttl_seconds: int, filename: str) -> str | None:
        return self.client.presigned_get_object(
            self.bucket,
            self._name(key),
            expires=timedelta(seconds=ttl_seconds),
            response_headers={"response-content-disposition": f'attachment; filename="{filename}"'},
        )


def _stream(response, chunk_size: int) -> Iterator[bytes]:
    try:
        yield from response.stream(chunk_size)
    finally:
        response.close()
        response.release_conn()
