"""A small Python client for the API (httpx), used by the CLI and usable from notebooks."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx


class APIError(Exception):
    """A problem+json answer: ``status``, ``code``, ``detail`` and ``request_id``."""

    def __init__(self, status: int, code: str, detail: str, request_id: str | None) -> None:
        super().__init__(f"{status} {code}: {detail} (request {request_id})")
        self.status, self.code, self.detail, self.request_id = status, code, detail, request_id


def _raise_for_problem(response: httpx.Response) -> None:
    if response.is_success or response.is_redirect:
        return
    try:
        body = response.json()
    except ValueError:
        body = {}
    raise APIError(
        response.status_code,
        body.get("code", "http_error"),
        body.get("detail", response.reason_phrase),
        body.get("request_id") or response.headers.get("x-request-id"),
    )


class SFDClient:
    def __init__(self, base_url: str, api_key: str, timeout: float = 60.0) -> None:
        self.base_url = base_url
        self.http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> SFDClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        _raise_for_problem(response)
        return response.json()

    # models
    def register_model_archive(self, archive: Path, name: str | None = None) -> dict[str, Any]:
        content_type = "application/zip" if archive.suffix == ".zip" else "application/x-tar"
        with archive.open("rb") as body:
            return self._request(
                "POST",
                "/v1/models",
                content=body,
                params={"name": name or archive.stem},
                headers={"Content-Type": content_type},
            )

    def register_model_reference(
        self, *, uri: str | None = None, path: str | None = None, name: str | None = None
    ) -> dict[str, Any]:
        body = {k: v for k, v in {"uri": uri, "path": path, "name": name}.items() if v is not None}
        return self._request("POST", "/v1/models", json=body)

    def list_models(self) -> list[dict[str, Any]]:
        return self._request("GET", "/v1/models", params={"limit": 100})["data"]

    # jobs
    def submit_job(self, idempotency_key: str | None = None, **request: Any) -> dict[str, Any]:
        """``request``: model, unsafe_concept, safe_surrogate, steps, seed, hyperparameters..."""
        key = idempotency_key or str(uuid.uuid4())
        body = {k: v for k, v in request.items() if v is not None}
        return self._request("POST", "/v1/jobs", json=body, headers={"Idempotency-Key": key})

    def get_job(self, job_id: str) -> dict[str, Any]:
        return self._request("GET", f"/v1/jobs/{job_id}")

    def list_jobs(self, status: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit, **({"status": status} if status else {})}
        return self._request("GET", "/v1/jobs", params=params)["data"]

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        return self._request("POST", f"/v1/jobs/{job_id}/cancel")

    def events(self, job_id: str, after: int | None = None, limit: int = 100) -> dict[str, Any]:
        params = {"limit": limit, **({"after": after} if after is not None else {})}
        return self._request("GET", f"/v1/jobs/{job_id}/events", params=params)

    def stream_events(self, job_id: str, after: int | None = None) -> Iterator[dict[str, Any]]:
        """Follow the job's server-sent events until it ends (the last one is ``end``)."""
        params = {"stream": "true", **({"after": after} if after is not None else {})}
        with self.http.stream(
            "GET", f"/v1/jobs/{job_id}/events", params=params, timeout=httpx.Timeout(60, read=None)
        ) as response:
            if not response.is_success:
                response.read()
                _raise_for_problem(response)
            kind, data = "message", ""
            for line in response.iter_lines():
                if line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:"):
                    data += line[5:].strip()
                elif line == "" and data:
                    payload = json.loads(data)
                    yield {"type": "end", "data": payload} if kind == "end" else payload
                    kind, data = "message", ""

    def artifacts(self, job_id: str) -> list[dict[str, Any]]:
        return self._request("GET", f"/v1/jobs/{job_id}/artifacts")["data"]

    def download(self, job_id: str, name: str, dest: Path) -> str:
        """Stream an artifact to ``dest`` (following an S3 redirect); its sha256."""
        digest = hashlib.sha256()
        with self.http.stream(
            "GET", f"/v1/jobs/{job_id}/artifacts/{name}", follow_redirects=True
        ) as response:
            if not response.is_success:
                response.read()
                _raise_for_problem(response)
            with dest.open("wb") as out:
                for chunk in response.iter_bytes(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
        return digest.hexdigest()

    # keys and audit
    def create_api_key(
        self,
        name: str,
        scopes: list[str],
        tenant: str | None = None,
        expires_at: int | None = None,
    ) -> dict[str, Any]:
        body = {"name": name, "scopes": scopes, "tenant": tenant, "expires_at": expires_at}
        body = {k: v for k, v in body.items() if v is not None}
        return self._request("POST", "/v1/api_keys", json=body)

    def audit_events(self, **filters: Any) -> dict[str, Any]:
        return self._request("GET", "/v1/audit/events", params=filters)

    def verify_audit(self, full: bool = False) -> dict[str, Any]:
        return self._request("GET", "/v1/audit/verify", params={"full": full})

    def list_api_keys(self, tenant: str | None = None) -> list[dict[str, Any]]:
        """Every key of ``tenant`` (default: the caller's), page by page."""
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 100, **({"tenant": tenant} if tenant else {})}
        while True:
            page = self._request("GET", "/v1/api_keys", params=params)
            found += page["data"]
            if not page["has_more"]:
                return found
            params["after"] = page["data"][-1]["id"]

    def revoke_api_key(self, key_id: str) -> dict[str, Any]:
        return self._request("DELETE", f"/v1/api_keys/{key_id}")

    def rotate_api_key(self, key_id: str, grace_seconds: int = 0) -> dict[str, Any]:
        body = {"grace_seconds": grace_seconds}
        return self._request("POST", f"/v1/api_keys/{key_id}/rotate", json=body)

    def signing_keys(self) -> list[dict[str, Any]]:
        return self._request("GET", "/v1/signing-keys")["data"]
