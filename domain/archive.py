"""Unpacking an uploaded model archive (tar, tar.gz or zip) without trusting it.

Refused: absolute paths, ``..``, links, devices, pickle weights, file types a diffusers folder
does not need, too many files, and more unpacked bytes than allowed. A single top-level folder
is stripped. Packing back writes a deterministic, uncompressed tar.
"""

from __future__ import annotations

import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from domain.errors import Invalid, TooLarge

ALLOWED_SUFFIXES = {".safetensors", ".json", ".txt", ".md", ".model"}
PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle"}
CHUNK = 1 << 20
MAX_NAME_BYTES = 1024
MAX_PART_BYTES = 255
# What a corrupt archive raises while it is read (never a message with a server path).
UNREADABLE = (
    tarfile.TarError,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    RuntimeError,
)


def member_path(name: str, *, directory: bool = False) -> PurePosixPath:
    """A member's relative path; names with control characters (NUL included), over-long
    names and anything escaping the folder are refused. ``./config.json`` is ``config.json``
    (``tar -cf t.tar -C teacher .`` names them so) and a directory may be ``.`` itself."""
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise Invalid("an archive member's name holds a control character", code="invalid_archive")
    path = PurePosixPath(name.replace("\\", "/"))
    if len(name.encode()) > MAX_NAME_BYTES or any(
        len(part.encode()) > MAX_PART_BYTES for part in path.parts
    ):
        raise Invalid("an archive member's name is too long", code="invalid_archive")
    if directory and not path.parts and name.strip("/") in {"", "."}:
        return path
    if path.is_absolute() or ".." in path.parts or not path.parts or ":" in path.parts[0]:
        raise Invalid(f"archive member {name!r} escapes the model folder", code="invalid_archive")
    return path


def check_suffix(path: PurePosixPath) -> None:
    if path.suffix in PICKLE_SUFFIXES:
        raise Invalid(
            f"{path}: pickle weights are refused; convert them to safetensors",
            code="pickle_refused",
        )
    if path.suffix not in ALLOWED_SUFFIXES:
        raise Invalid(
            f"{path}: unexpected file type (allowed: {', '.join(sorted(ALLOWED_SUFFIXES))})",
            code="invalid_archive",
        )


def _tar_members(archive: tarfile.TarFile) -> Iterator[tuple[PurePosixPath, int, BinaryIO]]:
    for member in archive:
        path = member_path(member.name, directory=member.isdir())
        if member.isdir():
            continue
        if not member.isfile():
            raise Invalid(
                f"archive member {member.name!r} is a link or device", code="invalid_archive"
            )
        handle = archive.extractfile(member)
        assert handle is not None
        yield path, member.size, handle


def _zip_members(archive: zipfile.ZipFile) -> Iterator[tuple[PurePosixPath, int, BinaryIO]]:
    for info in archive.infolist():
        path = member_path(info.filename, directory=info.is_dir())
        if info.is_dir():
            continue
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise Invalid(f"archive member {info.filename!r} is a link", code="invalid_archive")
        yield path, info.file_size, archive.open(info)


def unpack(
    archive_path: Path, dest: Path, *, max_files: int, max_bytes: int, strip: bool = True
) -> Path:
    """Unpack into ``dest``; the model folder (``dest``, or with ``strip`` its single
    top-level folder)."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        if zipfile.is_zipfile(archive_path):
            with zipfile.ZipFile(archive_path) as archive:
                _write_members(_zip_members(archive), dest, max_files, max_bytes)
        else:
            with tarfile.open(archive_path, mode="r:*") as archive:
                _write_members(_tar_members(archive), dest, max_files, max_bytes)
    except UNREADABLE as exc:
        raise Invalid(
            f"not a readable tar or zip archive ({type(exc).__name__})", code="invalid_archive"
        ) from None
    entries = [p for p in dest.iterdir() if p.name != "__MACOSX"]
    if not entries:
        raise Invalid("the archive is empty", code="invalid_archive")
    return entries[0] if strip and len(entries) == 1 and entries[0].is_dir() else dest


def _write_members(
    members: Iterator[tuple[PurePosixPath, int, BinaryIO]],
    dest: Path,
    max_files: int,
    max_bytes: int,
) -> None:
    files = written = 0
    for path, _size, handle in members:
        files += 1
        if files > max_files:
            raise Invalid(f"the archive holds more than {max_files} files", code="invalid_archive")
        if path.parts[0] == "__MACOSX" or path.name.startswith("._"):
            continue
        check_suffix(path)
        target = dest.joinpath(*path.parts)
        if target.exists():
            raise Invalid(f"archive member {path} appears twice", code="invalid_archive")
        target.parent.mkdir(parents=True, exist_ok=True)
        with handle, target.open("wb") as out:
            while chunk := handle.read(CHUNK):
                written += len(chunk)
                if written > max_bytes:
                    raise TooLarge(
                        f"the model unpacks to more than {max_bytes} bytes", code="model_too_large"
                    )
                out.write(chunk)


def pack(folder: Path, tar_path: Path, *, top: str | None = None) -> None:
    """A deterministic uncompressed tar of ``folder`` (sorted names, zero times and owners);
    with ``top``, every member lies under that one folder (``top/config.json``, ...), so the
    archive extracts to ``top/`` rather than spilling its files into the current folder."""
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as archive:
        if top is not None:
            info = tarfile.TarInfo(top)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            archive.addfile(info)
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            name = file.relative_to(folder).as_posix()
            info = tarfile.TarInfo(f"{top}/{name}" if top is not None else name)
            info.size = file.stat().st_size
            info.mode = 0o644
            with file.open("rb") as handle:
                archive.addfile(info, handle)
