"""Templates, their filters, and HTML responses with the dashboard's security headers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from domain.errors import NotFound
from domain.jobs.report import NOT_SHARES

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class PageNotFound(Exception):
    """Nothing here for this tenant (also when it is another tenant's)."""


@contextmanager
def not_found_as_page() -> Iterator[None]:
    """Domain 404s become the dashboard's 404 page rather than problem+json."""
    try:
        yield
    except NotFound as exc:
        raise PageNotFound(exc.detail) from None


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    response = TEMPLATES.TemplateResponse(request, template, context, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response


def _when(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _when_short(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M")


def _brief(value: Any, keep: int = 12) -> Any:
    """Long strings (hashes) cut to ``keep`` characters, inside lists and dicts too."""
    if isinstance(value, str) and len(value) > 2 * keep:
        return value[:keep] + "…"
    if isinstance(value, dict):
        return {k: _brief(v, keep) for k, v in value.items()}
    if isinstance(value, list):
        return [_brief(v, keep) for v in value]
    return value


def _brief_text(value: Any) -> str:
    """A value for a table cell: hashes shortened, structures as compact JSON."""
    short = _brief(value)
    return short if isinstance(short, str) else json.dumps(short, ensure_ascii=False)


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.isoformat(timespec="seconds")


def _pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def _num(value: Any, digits: int = 3) -> str:
    if isinstance(value, bool) or value is None:
        return "—" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _metric(value: float | None, key: str) -> str:
    """A headline metric as the job page and the certificate both show it."""
    return _num(value, 3) if key in NOT_SHARES else _pct(value)


def _size(value: int | None) -> str:
    if value is None:
        return "—"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{value} B"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


TEMPLATES.env.filters.update(
    when=_when,
    when_short=_when_short,
    brief=_brief_text,
    iso=_iso,
    pct=_pct,
    num=_num,
    metric=_metric,
    size=_size,
    duration=_duration,
)
