"""Finding 3 and 7: the audit chain is anchored by signed checkpoints in object storage.

Against real PostgreSQL (the app as a non-owner role, tampering as the owning superuser, as
the review did) and moto's S3 server through the minio client: a rewrite with recomputed
hashes and a cut tail both pass a plain chain walk but fail against the newest checkpoint;
the checkpointer refuses to sign a head that does not verify; verification is incremental;
checkpoints are written on a timer and are write-once (S3 Object Lock).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from minio.error import S3Error

from domain.actor import Actor
from domain.audit import service as audit
from domain.audit.anchor import PREFIX, checkpoint_key
from domain.audit.anchoring import Anchoring, open_anchoring
from domain.audit.models import AuditEvent, AuditHead
from domain.audit.verification import AuditVerifier
from domain.db import Database
from domain.errors import Conflict
from domain.settings import Settings

from .support import S3_KEYS


@dataclass
class Chain:
    app: Database  # the service's role
    owner: Database  # the tables' owner, a superuser: the insider of finding 3
    anchoring: Anchoring
    settings: Settings


def _settings(tmp_path: Path, url: str, endpoint: str, **overrides: object) -> Settings:
    bucket = f"anchor-{secrets.token_hex(4)}"
    return Settings(
        home=tmp_path,
        database_url=url,
        storage_url=f"s3://{bucket}/svc",
        s3_endpoint=endpoint,
        s3_secure=False,
        **S3_KEYS,
        **overrides,
    )


@pytest.fixture
def chain(
    tmp_path: Path, pg_app_database: Callable[[], tuple[str, str]], s3_endpoint: str
) -> Iterator[Chain]:
    owner_url, app_url = pg_app_database()
    settings = _settings(tmp_path, app_url, s3_endpoint)
    app, owner = Database(app_url), Database(owner_url)
    anchoring = open_anchoring(settings, app)
    anchoring.anchor.ensure()
    yield Chain(app, owner, anchoring, settings)
    app.dispose()
    owner.dispose()


def append(db: Database, count: int, tenant: str = "acme") -> None:
    for i in range(count):
        with db.session() as session:
            actor = Actor(tenant=tenant, name="key:key_x", key_id="key_x")
            audit.record(session, actor, "job.created", "job", f"job_{tenant}_{i}", {"n": i})


def rewrite(db: Database, change: Callable[[list[AuditEvent]], list[AuditEvent]]) -> None:
    """As the review's insider: triggers off, change rows, recompute every later hash, move
    the head. The plain chain then verifies again."""
    with db.session() as session:
        session.execute(sa.text("SET session_replication_role = replica"))
        rows = list(session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq)))
        session.execute(sa.delete(AuditEvent))
        session.flush()
        kept = change(rows)
        prev = "0" * 64
        for seq, row in enumerate(kept, start=1):
            session.expunge(row)
            sa.orm.make_transient(row)
            row.seq, row.prev_hash = seq, prev
            row.hash = audit.event_hash(row)
            prev = row.hash
            session.add(row)
        session.flush()
        session.execute(sa.update(AuditHead).values(seq=len(kept), hash=prev))


def fresh_verifier(chain: Chain) -> AuditVerifier:
    """A verifier of a newly started process: it knows only the store and the keys."""
    return open_anchoring(chain.settings, chain.app).verifier


def test_a_rewrite_with_recomputed_hashes_is_detected(chain: Chain) -> None:
    append(chain.app, 8)
    checkpoint = chain.anchoring.checkpoint()
    assert checkpoint is not None and checkpoint.seq == 8

    def forge(rows: list[AuditEvent]) -> list[AuditEvent]:
        rows[3].object_id = "job_forged"
        return rows

    rewrite(chain.owner, forge)
    with chain.app.sessions() as session:
        assert audit.verify(session).valid  # the attack of finding 3 fools the plain chain
        status = fresh_verifier(chain).verify(session)
    assert not status.valid and status.first_broken_seq == 8
    assert "rewritten" in (status.reason or "")


def test_a_cut_tail_is_detected(chain: Chain) -> None:
    append(chain.app, 8)
    chain.anchoring.checkpoint()
    rewrite(chain.owner, lambda rows: rows[:5])
    with chain.app.sessions() as session:
        assert audit.verify(session).valid
        status = fresh_verifier(chain).verify(session)
    assert not status.valid and "removed" in (status.reason or "")


def test_a_deleted_row_with_renumbering_is_detected(chain: Chain) -> None:
    append(chain.app, 6)
    chain.anchoring.checkpoint()
    append(chain.app, 3)
    chain.anchoring.checkpoint()
    rewrite(chain.owner, lambda rows: rows[:2] + rows[3:])
    with chain.app.sessions() as session:
        assert not fresh_verifier(chain).verify(session).valid


def test_the_checkpointer_never_signs_a_broken_chain(chain: Chain) -> None:
    append(chain.app, 4)
    first = chain.anchoring.checkpoint()
    append(chain.app, 2)
    rewrite(chain.owner, lambda rows: rows[:2] + rows[3:] + rows[2:3])
    with pytest.raises(Conflict, match="does not verify"):
        open_anchoring(chain.settings, chain.app).checkpoint()
    keys = [info.key for info in chain.anchoring.anchor.store.list(PREFIX)]
    assert keys == [first.key]


def test_verification_is_incremental(chain: Chain) -> None:
    append(chain.app, 30)
    chain.anchoring.checkpoint()
    verifier = chain.anchoring.verifier
    with chain.app.sessions() as session:
        assert verifier.verify(session).checked == 30
        append(chain.app, 3)
        chain.anchoring.checkpoint()
        again = verifier.verify(session)
        assert again.valid and again.checked == 3  # from the last verified checkpoint on
        assert verifier.verify(session, full=True).checked == 33


def test_checkpoints_are_written_on_a_timer_and_once(
    tmp_path: Path, pg_app_database: Callable[[], tuple[str, str]], s3_endpoint: str
) -> None:
    _, app_url = pg_app_database()
    settings = _settings(
        tmp_path, app_url, s3_endpoint, audit_checkpoint_seconds=0.3, audit_object_lock_days=1
    )
    db = Database(app_url)
    anchoring = open_anchoring(settings, db)
    anchoring.start()
    try:
        append(db, 5)
        deadline = time.monotonic() + 20
        store = anchoring.anchor.store
        while not [i for i in store.list(PREFIX) if i.key == checkpoint_key(5)]:
            assert time.monotonic() < deadline, "no checkpoint within 20 s"
            time.sleep(0.1)
    finally:
        anchoring.close()
        db.dispose()
    assert not store.put_once(checkpoint_key(5), b"forged", "application/json")
    client, bucket = store.client, store.bucket
    name = store.prefix + checkpoint_key(5)
    version = client.stat_object(bucket, name).version_id
    with pytest.raises(S3Error):
        client.remove_object(bucket, name, version_id=version)
    assert anchoring.anchor.read(checkpoint_key(5)).seq == 5


def test_an_incremental_run_sees_an_older_row_deleted_after_it_was_verified(chain: Chain) -> None:
    append(chain.app, 6)
    chain.anchoring.checkpoint()
    verifier = chain.anchoring.verifier
    with chain.app.sessions() as session:
        assert verifier.verify(session).valid  # the next run starts at the checkpoint
    with chain.owner.session() as session:
        session.execute(sa.text("SET session_replication_role = replica"))
        session.execute(sa.delete(AuditEvent).where(AuditEvent.seq == 3))
    append(chain.app, 2)
    with chain.app.sessions() as session:
        status = verifier.verify(session)
    assert not status.valid and status.first_broken_seq == 3
    assert "removed" in (status.reason or "")
