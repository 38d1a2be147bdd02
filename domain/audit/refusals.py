"""Refused calls (401, 403) and failed dashboard sign-ins in the audit log, counted rather than
written one by one, so that a flood of bad keys cannot grow the chain without bound.

Refusals are counted per (tenant, source address, key) and per minute; each count becomes one
``auth.refused`` event when the minute is over (at the next refusal), when someone allowed to
read the audit log reads it (a refused read writes nothing), or when the service stops. A
minute holds at most ``MAX_BUCKETS`` counts; refusals past that share one bucket whose source
is ``other``. So refusals add at most ``MAX_BUCKETS + 1`` events a minute per API process,
however many arrive. Unknown keys have no tenant: theirs go to the log of the operator's tenant
(``SFD_ADMIN_TENANT``). Counts not yet written are lost if the process dies.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from domain.actor import Actor
from domain.audit import service as audit
from domain.db import Database, utcnow

ACTION = "auth.refused"
MAX_BUCKETS = 100
MAX_PATHS = 5
OTHER = "other"


@dataclass
class _Bucket:
    count: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    paths: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Refusal:
    """One refused call: who (``key_id`` when the key was known), from where, what for."""

    tenant: str | None
    source: str
    key_id: str | None
    status: int
    code: str
    path: str


class RefusalLog:
    """The counts of the current minute, written to the audit log of ``db``."""

    def __init__(self, db: Database, operator_tenant: str) -> None:
        self.db, self.operator_tenant = db, operator_tenant
        self.lock = threading.Lock()
        self.minute: datetime | None = None
        self.buckets: dict[tuple[str, str, str | None], _Bucket] = {}

    def note(self, refusal: Refusal) -> None:
        """Count a refusal; a new minute first writes out the last one's counts."""
        minute = utcnow().replace(second=0, microsecond=0)
        if self.minute is not None and minute != self.minute:
            self.flush()
        with self.lock:
            self.minute = minute
            tenant = refusal.tenant or self.operator_tenant
            key = (tenant, refusal.source[:64], refusal.key_id)
            if key not in self.buckets and len(self.buckets) >= MAX_BUCKETS:
                key = (self.operator_tenant, OTHER, None)
            bucket = self.buckets.setdefault(key, _Bucket())
            bucket.count += 1
            bucket.codes[f"{refusal.status} {refusal.code}"] += 1
            if refusal.path not in bucket.paths and len(bucket.paths) < MAX_PATHS:
                bucket.paths.append(refusal.path[:200])

    def flush(self) -> None:
        """Write one ``auth.refused`` event per count so far, and start counting afresh."""
        with self.lock:
            buckets, minute = self.buckets, self.minute
            self.buckets = {}
        if not buckets or minute is None:
            return
        with self.db.session() as session:
            for (tenant, source, key_id), bucket in buckets.items():
                name = f"key:{key_id}" if key_id else "anonymous"
                actor = Actor(tenant=tenant, name=name, key_id=key_id)
                data = {
                    "minute": minute.isoformat(timespec="minutes"),
                    "count": bucket.count,
                    "codes": dict(bucket.codes),
                    "paths": bucket.paths,
                }
                audit.record(session, actor, ACTION, "source", source, data)
