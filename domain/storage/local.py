"""Objects as files under one folder; writes are atomic (temp file + rename)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from domain.storage.base import CHUNK, ObjectInfo, ObjectNotFound, check_key


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def ensure(self, object_lock: bool = False) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def check(self) -> None:
        if not self.root.is_dir() or not os.access(self.root, os.W_OK):
            raise OSError(f"storage folder {self.root} is missing or not writable")

    def put(self, key: str, stream: BinaryIO, size: int, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(stream, out, CHUNK)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        with path.open("rb") as stream:
            self.put(key, stream, path.stat().st_size, content_type)

    def get_stream(
        self, key: str, chunk_size: int = CHUNK, offset: int = 0, length: int | None = None
    ) -> Iterator[bytes]:
        try:
            handle = self._path(key).open("rb")
        except FileNotFoundError:
            raise ObjectNotFound(key) from None
        handle.seek(offset)
        return _chunks(handle, chunk_size, length)

    def download_file(self, key: str, path: Path) -> None:
        try:
            shutil.copyfile(self._path(key), path)
        except FileNotFoundError:
            raise ObjectNotFound(key) from None

    def stat(self, key: str) -> ObjectInfo:
        path = self._path(key)
        if not path.is_file():
            raise ObjectNotFound(key)
        return ObjectInfo(key, path.stat().st_size)

    def list(self, prefix: str, start_after: str | None = None) -> Iterator[ObjectInfo]:
        for path in sorted(self.root.rglob("*")):
            key = path.relative_to(self.root).as_posix()
            if start_after is not None and key <= start_after:
                continue
            if path.is_file() and key.startswith(prefix) and not path.name.startswith(".upload-"):
                yield ObjectInfo(key, path.stat().st_size)

    def put_once(
        self, key: str, data: bytes, content_type: str, retain_until: datetime | None = None
    ) -> bool:
        """Create-if-absent by a hard link (atomic); the file is made read-only."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.chmod(tmp, 0o444)
            os.link(tmp, path)
            return True
        except FileExistsError:
            return False
        finally:
            Path(tmp).unlink(missing_ok=True)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def presigned_get_url(self, key: str, ttl_seconds: int, filename: str) -> str | None:
        return None


def _chunks(handle: BinaryIO, chunk_size: int, length: int | None = None) -> Iterator[bytes]:
    """The handle's bytes from where it stands, ``length`` of them (None: to the end)."""
    left = length
    with handle:
        while left is None or left > 0:
            chunk = handle.read(chunk_size if left is None else min(chunk_size, left))
            if not chunk:
                return
            if left is not None:
                left -= len(chunk)
            yield chunk
