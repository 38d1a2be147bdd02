"""``/v1/jobs/{id}/certificate``: the signed unlearning certificate of a succeeded job."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from api.deps import AnchoringDep, AuditReader, DatabaseDep
from api.problems import V1_ERRORS, responses
from api.schemas.certificates import Envelope
from domain.certificates import issue

router = APIRouter(prefix="/v1/jobs/{job_id}/certificate", tags=["certificates"])


@router.get("", response_model=Envelope, responses=responses(*V1_ERRORS))
def get_certificate(
    job_id: Annotated[str, Path(max_length=64)],
    actor: AuditReader,
    db: DatabaseDep,
    anchoring: AnchoringDep,
) -> dict[str, Any]:
    """An in-toto Statement v1 (subjects: the artifacts' sha256; predicate: input and output
    hashes, forget spec, evaluator, metrics, time window, requester, the job's audit row and
    the signed chain head at issue) in a DSSE envelope signed with Ed25519. Verify it with
    the public key from ``/v1/signing-keys``. 409 unless the job succeeded and the audit log
    verifies."""
    assert actor.tenant is not None
    with db.sessions() as session:
        envelope = issue.issue(session, anchoring, actor.tenant, job_id)
    with db.session() as session:
        issue.record_view(session, actor, job_id, "api")
    return envelope
