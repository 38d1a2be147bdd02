"""The compliance dashboard: server-rendered pages under ``/dashboard``."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from api.dashboard.auth import CsrfRejected, LoginRequired, Viewer, current_viewer
from api.dashboard.render import PageNotFound, page
from api.dashboard.routes import audit, certificates, job, jobs, models, session, webhooks

STATIC = Path(__file__).parent / "static"


async def _login_required(request: Request, exc: Exception) -> Response:
    if request.url.path.endswith("/progress"):
        return JSONResponse({"detail": "signed out"}, status_code=401)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/dashboard/login?next={quote(target)}", status_code=303)


def _viewer(request: Request) -> Viewer | None:
    """The signed-in viewer, so an error page keeps the navigation; None if signed out."""
    try:
        return current_viewer(request, request.app.state.db)
    except LoginRequired:
        return None


async def _not_found(request: Request, exc: Exception) -> Response:
    viewer = await run_in_threadpool(_viewer, request)
    return page(request, "error.html", 404, title="Not found", message=str(exc), viewer=viewer)


async def _csrf_rejected(request: Request, exc: Exception) -> Response:
    message = "This form was not sent from the dashboard, or it expired. Reload and try again."
    viewer = await run_in_threadpool(_viewer, request)
    return page(request, "error.html", 403, title="Request refused", message=message, viewer=viewer)


def mount(app: FastAPI) -> None:
    """Add the dashboard's routes, static files and error pages to ``app``."""
    for module in (session, jobs, job, certificates, models, audit, webhooks):
        app.include_router(module.router)
    app.mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static")
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(PageNotFound, _not_found)
    app.add_exception_handler(CsrfRejected, _csrf_rejected)
