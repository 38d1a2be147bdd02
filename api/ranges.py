"""HTTP byte ranges (RFC 9110 section 14): one ``Range: bytes=...`` range of a file whose size
is known. Several ranges, or a header that is not a byte range, are ignored (the whole file is
sent, as the RFC allows)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.errors import DomainError

SINGLE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(DomainError):
    status = 416
    code = "range_not_satisfiable"


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def parse(header: str | None, size: int) -> ByteRange | None:
    """The range asked for in ``header``, clipped to ``size``; None for the whole file;
    :class:`RangeNotSatisfiable` (with ``Content-Range: bytes */size``) when none of it lies
    in the file."""
    match = SINGLE.match((header or "").strip().replace(" ", ""))
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
        if last and int(last) < start:
            return None  # an invalid range: ignored
    else:
        start, end = max(size - int(last), 0), size - 1
        if int(last) == 0:
            start = size  # a zero-length suffix is unsatisfiable
    if start >= size:
        raise RangeNotSatisfiable(
            f"the range {header!r} lies outside the file ({size} bytes)",
            headers={"Content-Range": f"bytes */{size}"},
        )
    return ByteRange(start, end)
