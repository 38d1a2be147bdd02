"""A succeeded job's certificate: the signed DSSE envelope and its printable page."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.dashboard.auth import Viewer, ViewerDep
from api.dashboard.render import SECURITY_HEADERS, PageNotFound, not_found_as_page, page
from api.deps import AnchoringDep, DatabaseDep
from domain.certificates import issue
from domain.certificates.verify import check_signature
from domain.errors import Conflict

router = APIRouter(prefix="/dashboard/jobs/{job_id}")


def _issue(db: DatabaseDep, anchoring: AnchoringDep, viewer: Viewer, job_id: str) -> dict[str, Any]:
    """The certificate, its view recorded in the audit log."""
    with db.sessions() as session, not_found_as_page():
        try:
            envelope = issue.issue(session, anchoring, viewer.tenant, job_id)
        except Conflict as exc:
            raise PageNotFound(exc.detail) from None
    with db.session() as session:
        issue.record_view(session, viewer.actor, job_id, "dashboard")
    return envelope


@router.get("/certificate", include_in_schema=False)
def certificate_page(
    request: Request, job_id: str, viewer: ViewerDep, db: DatabaseDep, anchoring: AnchoringDep
) -> HTMLResponse:
    envelope = _issue(db, anchoring, viewer, job_id)
    signature, statement = check_signature(envelope, list(anchoring.keyring.keys.values()))
    assert statement is not None
    return page(
        request,
        "certificate.html",
        viewer=viewer,
        nav="jobs",
        cert=statement["predicate"],
        subjects=statement["subject"],
        envelope=envelope,
        signature=signature,
    )


@router.get("/certificate.json", include_in_schema=False)
def certificate_json(
    job_id: str, viewer: ViewerDep, db: DatabaseDep, anchoring: AnchoringDep
) -> Response:
    envelope = _issue(db, anchoring, viewer, job_id)
    return Response(
        json.dumps(envelope, indent=2, ensure_ascii=False) + "\n",
        media_type="application/json",
        headers={
            **SECURITY_HEADERS,
            "Content-Disposition": f'attachment; filename="certificate-{job_id}.json"',
        },
    )
