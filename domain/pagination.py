"""Cursor pagination over time-ordered ids: newest first, ``after`` the last id seen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

T = TypeVar("T")
MAX_LIMIT = 100


@dataclass
class Page(Generic[T]):
    data: list[T]
    has_more: bool


def paginate(
    session: Session,
    query: Select,
    key: InstrumentedAttribute,
    *,
    after: object | None,
    limit: int,
    descending: bool = True,
) -> Page:
    """Rows of ``query`` ordered by ``key`` (unique), starting after the cursor ``after``."""
    if after is not None:
        query = query.where(key < after if descending else key > after)
    query = query.order_by(key.desc() if descending else key.asc()).limit(limit + 1)
    rows = list(session.scalars(query))
    return Page(rows[:limit], len(rows) > limit)
