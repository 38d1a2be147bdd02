"""A succeeded job's certificate: the signed JSON document and its printable page."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.dashboard.auth import ViewerDep
from api.dashboard.render import SECURITY_HEADERS, PageNotFound, not_found_as_page, page
from api.deps import DatabaseDep, SettingsDep
from domain.certificates import issue
from domain.certificates.signing import signing_key
from domain.certificates.verify import check_signature
from domain.errors import Conflict

router = APIRouter(prefix="/dashboard/jobs/{job_id}")


def _issue(db: DatabaseDep, settings: SettingsDep, tenant: str, job_id: str) -> dict:
    with db.sessions() as session, not_found_as_page():
        try:
            return issue.issue(session, settings, tenant, job_id)
        except Conflict as exc:
            raise PageNotFound(exc.detail) from None


@router.get("/certificate", include_in_schema=False)
def certificate_page(
    request: Request, job_id: str, viewer: ViewerDep, db: DatabaseDep, settings: SettingsDep
) -> HTMLResponse:
    document = _issue(db, settings, viewer.tenant, job_id)
    return page(
        request,
        "certificate.html",
        viewer=viewer,
        nav="jobs",
        cert=document,
        signature=check_signature(document, signing_key(settings)),
    )


@router.get("/certificate.json", include_in_schema=False)
def certificate_json(
    job_id: str, viewer: ViewerDep, db: DatabaseDep, settings: SettingsDep
) -> Response:
    document = _issue(db, settings, viewer.tenant, job_id)
    return Response(
        json.dumps(document, indent=2, ensure_ascii=False) + "\n",
        media_type="application/json",
        headers={
            **SECURITY_HEADERS,
            "Content-Disposition": f'attachment; filename="certificate-{job_id}.json"',
        },
    )
