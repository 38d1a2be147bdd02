"""``/v1/jobs/{id}/certificate``: the signed unlearning certificate of a succeeded job."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import AuditReader, DatabaseDep, SettingsDep
from domain.certificates import issue

router = APIRouter(prefix="/v1/jobs/{job_id}/certificate", tags=["certificates"])


@router.get("")
def get_certificate(
    job_id: str, actor: AuditReader, db: DatabaseDep, settings: SettingsDep
) -> dict[str, Any]:
    """Input and output hashes, forget spec, evaluator, metrics, time window, requester and
    the audit-chain hash at completion, signed (HMAC-SHA256). 409 unless the job succeeded."""
    assert actor.tenant is not None
    with db.sessions() as session:
        return issue.issue(session, settings, actor.tenant, job_id)
