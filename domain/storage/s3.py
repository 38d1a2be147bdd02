"""Objects in an S3-compatible service (MinIO, AWS S3, Ceph) through the minio client."""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from minio import Minio
from minio.commonconfig import COMPLIANCE
from minio.error import S3Error
from minio.retention import Retention

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

    def ensure(self, object_lock: bool = False) -> None:
        """Create the bucket if missing (with Object Lock enabled if asked); refuse one that
        exists without Object Lock when it is asked for."""
        if not self.client.bucket_exists(self.bucket):
            self.client.make_bucket(self.bucket, object_lock=object_lock)
        elif object_lock:
            try:
                self.client.get_object_lock_config(self.bucket)
            except S3Error as exc:
                raise OSError(
                    f"bucket {self.bucket!r} has no Object Lock; create it with Object Lock "
                    "enabled or set SFD_AUDIT_OBJECT_LOCK_DAYS=0"
                ) from exc

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

    def get_stream(
        self, key: str, chunk_size: int = CHUNK, offset: int = 0, length: int | None = None
    ) -> Iterator[bytes]:
        try:
            response = self.client.get_object(
                self.bucket, self._name(key), offset=offset, length=length or 0
            )
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

    def list(self, prefix: str, start_after: str | None = None) -> Iterator[ObjectInfo]:
        for obj in self.client.list_objects(
            self.bucket,
            prefix=self.prefix + prefix,
            recursive=True,
            start_after=self.prefix + start_after if start_after else None,
        ):
            if obj.object_name is not None and not obj.is_dir:
                yield ObjectInfo(obj.object_name[len(self.prefix) :], int(obj.size or 0))

    def put_once(
        self, key: str, data: bytes, content_type: str, retain_until: datetime | None = None
    ) -> bool:
        """Write unless the key exists; with ``retain_until``, under Object Lock (COMPLIANCE
        mode: nobody can delete or overwrite that version before then)."""
        try:
            self.stat(key)
            return False
        except ObjectNotFound:
            pass
        retention = Retention(COMPLIANCE, retain_until) if retain_until is not None else None
        # S3 wants a checksum on a write under Object Lock (minio sends MD5 over HTTPS only).
        digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
        checksum = {"x-amz-sdk-checksum-algorithm": "SHA256", "x-amz-checksum-sha256": digest}
        self.client.put_object(
            self.bucket,
            self._name(key),
            io.BytesIO(data),
            len(data),
            content_type=content_type,
            metadata=checksum,  # type: ignore[arg-type]
            retention=retention,
        )
        return True

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
