"""The audit trust anchor of one process: signing keys, checkpoint store, checkpointer thread
and the incremental verifier, built from settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from domain.audit.anchor import AnchorStore, Checkpoint, Checkpointer
from domain.audit.models import AuditEvent
from domain.audit.verification import AuditVerifier
from domain.db import Database, utcnow
from domain.errors import Conflict
from domain.settings import Settings
from domain.signing import Keyring, load_keyring
from domain.storage import Storage, open_storage


@dataclass
class Anchoring:
    db: Database
    keyring: Keyring
    anchor: AnchorStore
    verifier: AuditVerifier
    interval: float
    checkpointer: Checkpointer = field(init=False)

    def __post_init__(self) -> None:
        self.checkpointer = Checkpointer(self.checkpoint, self.interval)

    def start(self) -> None:
        self.anchor.ensure()
        self.checkpointer.start()

    def close(self) -> None:
        self.checkpointer.close()

    def checkpoint(self) -> Checkpoint | None:
        """Verify the rows since the newest checkpoint, then sign and store the head (never
        a head that does not verify: that would launder a rewrite). Raises :class:`Conflict`
        when the log does not verify."""
        with self.db.sessions() as session:
            status = self.verifier.verify(session)
            if not status.valid:
                raise Conflict(
                    f"the audit log does not verify: {status.reason}", code="audit_unverifiable"
                )
            latest = status.checkpoint
            if status.head_seq == 0 or (latest is not None and latest.seq >= status.head_seq):
                return latest
            created = session.scalar(
                select(AuditEvent.created_at).where(AuditEvent.seq == status.head_seq)
            )
        return self.anchor.write(status.head_seq, status.head_hash, created or utcnow())


def open_anchoring(settings: Settings, db: Database, storage: Storage | None = None) -> Anchoring:
    """Checkpoints go to ``SFD_AUDIT_ANCHOR_URL``, else to the artifact store."""
    keyring = load_keyring(settings)
    if settings.audit_anchor_url:
        store = open_storage(settings, settings.audit_anchor_url)
    else:
        store = storage or open_storage(settings)
    anchor = AnchorStore(store, keyring, settings.audit_object_lock_days)
    return Anchoring(db, keyring, anchor, AuditVerifier(anchor), settings.audit_checkpoint_seconds)
