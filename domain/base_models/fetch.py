"""Bringing a model's files onto this machine: unpacking archives, fetching ``s3://`` URIs,
and the local cache (``SFD_HOME/cache/models/<sha256>``) the API and the workers share."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from minio.error import S3Error

from domain import archive
from domain.base_models import allowlist
from domain.base_models.cache import cache_path
from domain.errors import Invalid
from domain.settings import Settings
from domain.storage import ObjectNotFound
from domain.storage.s3 import S3Storage
from sfd_core.loading import folder_sha256

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".zip")


def staging_dir(settings: Settings) -> Path:
    """A fresh folder next to the cache, so finished folders can be renamed into it."""
    root = settings.cache_dir / "staging"
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=root))


def adopt(settings: Settings, folder: Path, sha256: str) -> Path:
    """Move an unpacked, verified model folder into the cache (keeps an existing copy)."""
    target = cache_path(settings, sha256)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(folder, target)
    except OSError:
        if not target.is_dir():
            raise
        shutil.rmtree(folder, ignore_errors=True)
    return target


def unpack_archive(settings: Settings, archive_path: Path, into: Path, strip: bool = True) -> Path:
    return archive.unpack(
        archive_path,
        into,
        max_files=settings.max_archive_files,
        max_bytes=settings.max_unpacked_bytes,
        strip=strip,
    )


def fetch_s3(settings: Settings, uri: str, into: Path) -> Path:
    """Download an archive object, or every object under a prefix, and return the folder."""
    bucket, key = allowlist.split(uri)
    try:
        store = S3Storage.from_settings(settings, bucket)
    except ValueError as exc:
        raise Invalid(str(exc), code="s3_not_configured") from None
    try:
        if key.endswith(ARCHIVE_SUFFIXES):
            return _fetch_archive(settings, store, uri, key, into)
        return _fetch_prefix(settings, store, uri, key, into)
    except ObjectNotFound:
        raise Invalid(f"no object {uri}", code="model_not_found") from None
    except S3Error as exc:
        raise Invalid(f"{uri} cannot be read ({exc.code})", code="model_unreadable") from None


def _fetch_archive(settings: Settings, store: S3Storage, uri: str, key: str, into: Path) -> Path:
    if store.stat(key).size > settings.max_upload_bytes:
        raise Invalid(f"{uri} is larger than the upload limit", code="model_too_large")
    archive_file = into / "model.archive"
    store.download_file(key, archive_file)
    folder = unpack_archive(settings, archive_file, into / "model")
    archive_file.unlink()
    return folder


def _fetch_prefix(settings: Settings, store: S3Storage, uri: str, key: str, into: Path) -> Path:
    prefix = key.rstrip("/") + "/"
    folder, total, count = into / "model", 0, 0
    for obj in store.list(prefix):
        try:
            relative = archive.member_path(obj.key[len(prefix) :])
            archive.check_suffix(relative)
        except Invalid as exc:  # without the object's name: it may not be the caller's
            detail = f"{uri} holds a file a model folder may not hold"
            raise Invalid(detail, code=exc.code) from None
        total, count = total + obj.size, count + 1
        if count > settings.max_archive_files or total > settings.max_unpacked_bytes:
            raise Invalid(f"{uri} holds too many files or bytes", code="model_too_large")
        target = folder.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        store.download_file(obj.key, target)
    if count == 0:
        raise Invalid(f"no objects under {uri}", code="model_not_found")
    return folder


def verified(folder: Path, sha256: str, what: str) -> Path:
    actual = folder_sha256(folder)
    if actual != sha256:
        raise Invalid(
            f"{what} changed since it was registered (sha256 {actual[:12]} != {sha256[:12]})",
            code="model_changed",
        )
    return folder
