"""``/v1/audit``: the tenant's audit events and verification of the whole chain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from api.deps import AnchoringDep, AuditReader, DatabaseDep, Forbidden
from api.problems import V1_ERRORS, responses
from api.refusals import flush as flush_refusals
from api.schemas.audit import AuditEventOut, VerificationOut
from api.schemas.common import ListOf
from domain.actor import Actor
from domain.audit import service as audit
from domain.audit.verification import tenant_view

router = APIRouter(prefix="/v1/audit", tags=["audit"], responses=responses(*V1_ERRORS))


def _reader(actor: AuditReader, request: Request) -> Actor:
    """The audit reader, once the refusal counts so far are in the log it reads."""
    flush_refusals(request)
    return actor


Reader = Annotated[Actor, Depends(_reader)]
MAX_SEQ = 2**63 - 1


@router.get("/events", response_model=ListOf[AuditEventOut])
def list_audit_events(
    actor: Reader,
    db: DatabaseDep,
    action: Annotated[str | None, Query(max_length=64)] = None,
    object_id: Annotated[str | None, Query(max_length=64)] = None,
    after: Annotated[int | None, Query(ge=0, le=MAX_SEQ)] = None,
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
def verify_audit_chain(
    actor: Reader,
    db: DatabaseDep,
    anchoring: AnchoringDep,
    full: Annotated[
        bool, Query(description="Recompute from the first row (platform admins only).")
    ] = False,
) -> VerificationOut:
    """Check the chain against its newest signed checkpoint, from the last verified one on
    (``full``: from the first row). A tenant sees only its own events; a platform admin also
    the whole chain's state."""
    assert actor.tenant is not None
    if full and not actor.is_platform_admin:
        raise Forbidden("a full verification is for platform admins", code="insufficient_scope")
    with db.sessions() as session:
        status = anchoring.verifier.verify(session, full=full)
        view = tenant_view(session, status, actor.tenant)
    return VerificationOut.of(view, status if actor.is_platform_admin else None)
