"""The tenant's audit log: search, chain verification status, CSV and JSON export."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from api.dashboard.auth import Viewer, ViewerDep
from api.dashboard.filters import day_end, day_start, query_string
from api.dashboard.render import SECURITY_HEADERS, page
from api.deps import AnchoringDep, DatabaseDep
from api.refusals import flush as flush_refusals
from api.schemas.audit import AuditEventOut
from domain.api_keys import lookup
from domain.audit import search
from domain.audit import service as audit
from domain.audit.verification import tenant_view
from domain.db import Database, utcnow

router = APIRouter(prefix="/dashboard/audit")


def _viewer(viewer: ViewerDep, request: Request) -> Viewer:
    """The signed-in viewer, once the refusal counts so far are in the log they read."""
    flush_refusals(request)
    return viewer


ReaderDep = Annotated[Viewer, Depends(_viewer)]
PAGE_SIZE = 50
Text = Annotated[str, Query(max_length=64)]
CSV_COLUMNS = (
    "seq",
    "created_at",
    "actor",
    "actor_key_id",
    "action",
    "object_type",
    "object_id",
    "request_id",
    "data",
    "prev_hash",
    "hash",
)


def _filter(
    actor: str, action: str, object_id: str, date_from: str, date_to: str
) -> search.AuditFilter:
    return search.AuditFilter(
        actor=actor or None,
        action=action or None,
        object_id=object_id or None,
        created_from=day_start(date_from),
        created_before=day_end(date_to),
    )


@router.get("", include_in_schema=False)
def audit_page(
    request: Request,
    viewer: ReaderDep,
    db: DatabaseDep,
    anchoring: AnchoringDep,
    actor: Text = "",
    action: Text = "",
    object_id: Text = "",
    date_from: Text = "",
    date_to: Text = "",
    after: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
) -> HTMLResponse:
    where = _filter(actor, action, object_id, date_from, date_to)
    with db.sessions() as session:
        found = search.search_events(session, viewer.tenant, where, after=after, limit=PAGE_SIZE)
        names = lookup.names(session, viewer.tenant, [e.actor_key_id for e in found.data])
        status = anchoring.verifier.verify(session)
        verification = tenant_view(session, status, viewer.tenant)
    filters = {
        "actor": actor,
        "action": action,
        "object_id": object_id,
        "date_from": date_from,
        "date_to": date_to,
    }
    next_link = None
    if found.has_more:
        next_link = "/dashboard/audit" + query_string({**filters, "after": found.data[-1].seq})
    return page(
        request,
        "audit.html",
        viewer=viewer,
        nav="audit",
        events=found.data,
        names=names,
        verification=verification,
        filters=filters,
        export_query=query_string(filters),
        first_link="/dashboard/audit" + query_string(filters) if after is not None else None,
        next_link=next_link,
    )


def _csv_rows(db: Database, tenant: str, where: search.AuditFilter) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    with db.sessions() as session:
        for event in search.export_events(session, tenant, where):
            row = AuditEventOut.of(event).model_dump()
            row["seq"] = row.pop("id")
            row["created_at"] = event.created_at.isoformat()
            row["data"] = json.dumps(row["data"], sort_keys=True)
            writer.writerow([row[column] for column in CSV_COLUMNS])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _json_rows(db: Database, tenant: str, where: search.AuditFilter) -> Iterator[str]:
    yield '{"object":"list","data":['
    with db.sessions() as session:
        for index, event in enumerate(search.export_events(session, tenant, where)):
            yield ("," if index else "") + AuditEventOut.of(event).model_dump_json()
    yield "]}"


def _record_export(db: Database, viewer: Viewer, fmt: str, filters: dict[str, str]) -> None:
    with db.session() as session:
        audit.record(
            session,
            viewer.actor,
            "audit.exported",
            "audit_log",
            viewer.tenant,
            {"format": fmt, "filters": {k: v for k, v in filters.items() if v}},
        )


@router.get("/export.{fmt}", include_in_schema=False)
def export(
    fmt: Literal["csv", "json"],
    viewer: ReaderDep,
    db: DatabaseDep,
    actor: Text = "",
    action: Text = "",
    object_id: Text = "",
    date_from: Text = "",
    date_to: Text = "",
) -> StreamingResponse:
    """Every matching event, oldest first; the export itself is audited first."""
    filters = {
        "actor": actor,
        "action": action,
        "object_id": object_id,
        "date_from": date_from,
        "date_to": date_to,
    }
    where = _filter(actor, action, object_id, date_from, date_to)
    _record_export(db, viewer, fmt, filters)
    rows = _csv_rows if fmt == "csv" else _json_rows
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        rows(db, viewer.tenant, where),
        media_type="text/csv; charset=utf-8" if fmt == "csv" else "application/json",
        headers={
            **SECURITY_HEADERS,
            "Content-Disposition": f'attachment; filename="audit-{viewer.tenant}-{stamp}.{fmt}"',
        },
    )
