"""Counting refused calls (401, 403) into the audit log (:mod:`domain.audit.refusals`)."""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from domain.audit.refusals import Refusal, RefusalLog


def _log(request: Request) -> RefusalLog | None:
    return getattr(request.app.state, "refusals", None)


async def note(request: Request, status: int, code: str) -> None:
    """Count this request as refused; the caller's key and tenant if it was known."""
    log = _log(request)
    if log is None:
        return
    actor = getattr(request.state, "actor", None)
    refusal = Refusal(
        tenant=actor.tenant if actor else None,
        source=request.client.host if request.client else "unknown",
        key_id=actor.key_id if actor else None,
        status=status,
        code=code,
        path=request.url.path,
    )
    await run_in_threadpool(log.note, refusal)


def flush(request: Request) -> None:
    """Write out the counts so far, so that a reader of the audit log sees them. Only for
    callers already allowed to read it: a refused caller must not be able to add rows."""
    log = _log(request)
    if log is not None:
        log.flush()
