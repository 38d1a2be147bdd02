"""The storage interface and the factory that picks an implementation from a URL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import urlparse

from domain.settings import Settings

CHUNK = 1 << 20


class ObjectNotFound(KeyError):
    """No object under that key."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int


class Storage(Protocol):
    """Keys are ``/``-separated relative paths such as ``jobs/job_x/artifacts/report.json``."""

    def ensure(self, object_lock: bool = False) -> None:
        """Create the bucket or folder if missing (an S3 bucket with Object Lock if asked)."""

    def check(self) -> None:
        """Raise if the store cannot be reached (readiness)."""

    def put(self, key: str, stream: BinaryIO, size: int, content_type: str) -> None: ...

    def put_file(self, key: str, path: Path, content_type: str) -> None: ...

    def get_stream(
        self, key: str, chunk_size: int = CHUNK, offset: int = 0, length: int | None = None
    ) -> Iterator[bytes]:
        """The object's bytes in chunks (``length`` of them from ``offset``; None: to the
        end); raises :class:`ObjectNotFound` before the first."""

    def download_file(self, key: str, path: Path) -> None: ...

    def stat(self, key: str) -> ObjectInfo: ...

    def list(self, prefix: str, start_after: str | None = None) -> Iterator[ObjectInfo]:
        """Objects under ``prefix`` in key order (after ``start_after``, if given)."""

    def put_once(
        self, key: str, data: bytes, content_type: str, retain_until: datetime | None = None
    ) -> bool:
        """Write ``key`` only if it does not exist (False if it did): a write-once object,
        locked until ``retain_until`` where the store supports it (S3 Object Lock)."""

    def delete(self, key: str) -> None: ...

    def presigned_get_url(self, key: str, ttl_seconds: int, filename: str) -> str | None:
        """A short-lived download URL, or None where the store has none (a local folder)."""


def check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"invalid storage key {key!r}")
    return key


def open_storage(settings: Settings, url: str | None = None) -> Storage:
    """The store at ``url`` (default: the configured one)."""
    url = url or settings.resolved_storage_url
    parsed = urlparse(url)
    if parsed.scheme == "file":
        from domain.storage.local import LocalStorage

        return LocalStorage(Path(parsed.path))
    if parsed.scheme == "s3":
        from domain.storage.s3 import S3Storage

        return S3Storage.from_settings(settings, bucket=parsed.netloc, prefix=parsed.path)
    raise ValueError(f"unsupported storage URL {url!r} (file:// or s3://)")
