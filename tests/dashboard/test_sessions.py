"""Finding 5: dashboard sessions live on the server. A cookie copied before signing out, or
before its key was revoked, no longer opens a page."""

from __future__ import annotations

from api.dashboard.auth import SESSION_COOKIE

from .conftest import CSRF, OFFICER_SCOPES, Dashboard


def _replay(dashboard: Dashboard, cookie: str) -> int:
    with dashboard.client() as stolen:
        stolen.cookies.set(SESSION_COOKIE, cookie, path="/dashboard")
        return stolen.get("/dashboard/jobs").status_code


def test_a_cookie_stops_working_after_logout(dashboard: Dashboard) -> None:
    with dashboard.signed_in() as client:
        cookie = client.cookies.get(SESSION_COOKIE)
        assert cookie and _replay(dashboard, cookie) == 200
        token = CSRF.search(client.get("/dashboard/jobs").text).group(1)
        assert client.post("/dashboard/logout", data={"csrf": token}).status_code == 303
    assert _replay(dashboard, cookie) == 303  # back to the login form


def test_revoking_the_key_ends_its_sessions(dashboard: Dashboard) -> None:
    with dashboard.service.client() as admin:
        created = admin.post(
            "/v1/api_keys", json={"name": "temp officer", "scopes": OFFICER_SCOPES}
        ).json()
    with dashboard.signed_in(created["secret"]) as client:
        cookie = client.cookies.get(SESSION_COOKIE)
        assert client.get("/dashboard/audit").status_code == 200
        with dashboard.service.client() as admin:
            assert admin.delete(f"/v1/api_keys/{created['id']}").status_code == 200
        assert client.get("/dashboard/audit").status_code == 303
    assert _replay(dashboard, cookie) == 303


def test_a_forged_or_unknown_token_is_no_session(dashboard: Dashboard) -> None:
    assert _replay(dashboard, "x" * 43) == 303
    assert _replay(dashboard, "y" * 4000) == 303
