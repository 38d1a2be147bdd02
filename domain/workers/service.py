"""Worker adverts: a node upserts its row every ``SFD_WORKER_ADVERT_SECONDS`` and deletes it
when it shuts down; a node is live while its last advert is under three intervals old."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from domain.db import utcnow
from domain.pagination import Page, paginate
from domain.settings import Settings
from domain.workers.models import Worker

LIVE_ADVERTS = 3  # adverts a live node may miss before it stops counting
FORGET_AFTER = timedelta(days=1)  # rows of nodes that vanished without a word go after this


@dataclass(frozen=True)
class Advert:
    """What a node offers; ``started_at`` is when it started, not when it advertised."""

    name: str
    device: str
    gpus: int
    slots: int
    started_at: datetime


def advertise(session: Session, advert: Advert) -> None:
    """Insert or refresh the node's row (seen now), and forget nodes long gone."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    now = utcnow()
    values = {**asdict(advert), "seen_at": now}
    insert = dialect.insert(Worker).values(values)
    session.execute(insert.on_conflict_do_update(index_elements=[Worker.name], set_=values))
    session.execute(delete(Worker).where(Worker.seen_at < now - FORGET_AFTER))


def withdraw(session: Session, name: str) -> None:
    """The node is shutting down: it offers nothing any more."""
    session.execute(delete(Worker).where(Worker.name == name))


def live_after(settings: Settings, now: datetime | None = None) -> datetime:
    """Nodes seen after this are live."""
    window = timedelta(seconds=LIVE_ADVERTS * settings.worker_advert_seconds)
    return (now or utcnow()) - window


def largest_live_gpus(session: Session, settings: Settings) -> int:
    """The most GPUs one live node offers (0 when none is live)."""
    query = select(func.max(Worker.gpus)).where(Worker.seen_at > live_after(settings))
    return session.scalar(query) or 0


def list_workers(session: Session, *, after: str | None, limit: int) -> Page[Worker]:
    """Every node that advertised in the last day, by name."""
    query = select(Worker).where(Worker.seen_at > utcnow() - FORGET_AFTER)
    return paginate(session, query, Worker.name, after=after, limit=limit, descending=False)
