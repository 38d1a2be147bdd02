"""``/v1/audit``: the tenant's audit events and verification of the whole chain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import AuditReader, DatabaseDep
from api.schemas.audit import AuditEventOut, VerificationOut
from api.schemas.common import ListOf
from domain.audit import service as audit

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("/events", response_model=ListOf[AuditEventOut])
def list_audit_events(
    actor: AuditReader,
    db: DatabaseDep,
    action: Annotated[str | None, Query(max_length=64)] = None,
    object_id: Annotated[str | None, Query(max_length=64)] = None,
    after: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ListOf[AuditEventOut]:
    """Newest first; filter by ``action`` (e.g. ``job.created``) or ``object_id``."""
    assert actor.tenant is not None
    with db.sessions() as session:
        page = audit.list_events(
            session, actor.tenant, action=action, object_id=object_id, after=after, limit=limit
        )
        return ListOf[AuditEventOut](
            data=[AuditEventOut.of(e) for e in page.data], has_more=page.has_more
        )


@router.get("/verify", response_model=VerificationOut)
def verify_audit_chain(actor: AuditReader, db: DatabaseDep) -> VerificationOut:
    """Recompute the hash chain; name the first broken row if any."""
    with db.sessions() as session:
        return VerificationOut.of(audit.verify(session))
