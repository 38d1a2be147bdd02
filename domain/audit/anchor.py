"""Signed checkpoints of the audit chain's head, kept in object storage where the database's
users cannot reach them.

A checkpoint is a DSSE envelope (the service's Ed25519 key) over ``{seq, hash, created_at}`` of
the head row, written once under ``audit/checkpoints/<seq>.json`` (S3 Object Lock where
configured). Verification checks the rows against the newest checkpoint, so a rewrite with
recomputed hashes, or a tail cut off together with the head row, no longer verifies.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain.db import utcnow
from domain.hashing import canonical_json
from domain.signing import Keyring, SignatureProblem
from domain.storage import Storage

log = logging.getLogger(__name__)
PREFIX = "audit/checkpoints/"
PAYLOAD_TYPE = "application/vnd.sfd-unlearn.audit-checkpoint+json"
CHECKPOINT_TYPE = "https://sfd-unlearn.dev/audit-checkpoint/v1"


def checkpoint_key(seq: int) -> str:
    """Zero-padded, so key order is sequence order."""
    return f"{PREFIX}{seq:020d}.json"


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    created_at: str
    key: str
    keyid: str


class AnchorStore:
    """Writes and reads signed checkpoints; remembers the newest one it has seen."""

    def __init__(self, store: Storage, keyring: Keyring, lock_days: int = 0) -> None:
        self.store, self.keyring, self.lock_days = store, keyring, lock_days
        self._latest: Checkpoint | None = None
        self._lock = threading.Lock()

    def ensure(self) -> None:
        self.store.ensure(object_lock=self.lock_days > 0)

    def write(self, seq: int, hash_: str, event_time: datetime) -> Checkpoint:
        """Sign and store the checkpoint of row ``seq``. Its contents depend only on the row,
        so replicas racing to write the same one write the same bytes."""
        payload = {
            "_type": CHECKPOINT_TYPE,
            "seq": seq,
            "hash": hash_,
            "created_at": event_time.isoformat(timespec="microseconds"),
        }
        envelope = self.keyring.sign(canonical_json(payload), PAYLOAD_TYPE)
        until = utcnow() + timedelta(days=self.lock_days) if self.lock_days else None
        key = checkpoint_key(seq)
        self.store.put_once(key, canonical_json(envelope), "application/json", until)
        checkpoint = Checkpoint(seq, hash_, payload["created_at"], key, self.keyring.active.keyid)
        self._remember(checkpoint)
        return checkpoint

    def _remember(self, checkpoint: Checkpoint) -> None:
        with self._lock:
            if self._latest is None or checkpoint.seq > self._latest.seq:
                self._latest = checkpoint

    def read(self, key: str) -> Checkpoint:
        """The checkpoint at ``key``, its signature checked (raises :class:`SignatureProblem`)."""
        try:
            envelope = json.loads(b"".join(self.store.get_stream(key)))
            payload = json.loads(self.keyring.verify(envelope, PAYLOAD_TYPE))
            seq, hash_ = int(payload["seq"]), str(payload["hash"])
        except (ValueError, KeyError, TypeError) as exc:
            raise SignatureProblem(
                f"checkpoint {key} is unreadable ({type(exc).__name__})"
            ) from None
        if payload.get("_type") != CHECKPOINT_TYPE or key != checkpoint_key(seq):
            raise SignatureProblem(f"checkpoint {key} does not name its own row")
        keyid = envelope["signatures"][0]["keyid"]
        return Checkpoint(seq, hash_, str(payload.get("created_at")), key, keyid)

    def latest(self) -> Checkpoint | None:
        """The newest checkpoint in the store (listing only keys after the newest seen)."""
        with self._lock:
            known = self._latest
        newest = None
        for info in self.store.list(PREFIX, start_after=known.key if known else None):
            newest = info.key
        if newest is None:
            return known
        checkpoint = self.read(newest)
        self._remember(checkpoint)
        return checkpoint


class Checkpointer:
    """A thread that runs ``tick`` (verify, then checkpoint the head) every ``interval``
    seconds; a head that has not moved costs one small query and one listing."""

    def __init__(self, tick: Callable[[], Checkpoint | None], interval: float) -> None:
        self._tick, self.interval = tick, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sfd-audit-anchor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.tick()

    def tick(self) -> Checkpoint | None:
        try:
            return self._tick()
        except Exception:
            log.exception("audit checkpoint failed; retrying in %.0f s", self.interval)
            return None

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self.tick()


def describe(checkpoint: Checkpoint | None) -> dict[str, Any] | None:
    if checkpoint is None:
        return None
    return {
        "seq": checkpoint.seq,
        "hash": checkpoint.hash,
        "created_at": checkpoint.created_at,
        "key": checkpoint.key,
        "keyid": checkpoint.keyid,
    }
