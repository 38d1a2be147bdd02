"""Query-string filters of the dashboard's tables: dates, and links that keep the filters."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode


def day_start(text: str | None) -> datetime | None:
    """``YYYY-MM-DD`` as midnight UTC; None when empty or not a date."""
    try:
        return (
            datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC) if text else None
        )
    except ValueError:
        return None


def day_end(text: str | None) -> datetime | None:
    """The midnight after ``YYYY-MM-DD`` (so the day itself is included)."""
    start = day_start(text)
    return None if start is None else start + timedelta(days=1)


def query_string(values: dict[str, object]) -> str:
    """``?a=1&b=2`` of the non-empty values, or an empty string."""
    kept = {name: value for name, value in values.items() if value not in (None, "")}
    return f"?{urlencode(kept)}" if kept else ""
