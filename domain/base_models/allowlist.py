"""Which ``s3://`` URIs may be registered as models: only under the prefixes a deployment
allows (``SFD_MODEL_URI_PREFIXES``, ``{tenant}`` standing for the caller's tenant), and never
inside the service's own stores (artifacts, uploaded models, audit checkpoints), whatever the
allow-list says. Refusals name only what the caller gave and may use."""

from __future__ import annotations

import re
from urllib.parse import urlparse

from domain.errors import Invalid
from domain.settings import Settings

BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
UNSAFE = re.compile(r"[\x00-\x1f\x7f\\%?#]")


def split(uri: str) -> tuple[str, str]:
    """``(bucket, key)`` of a plain ``s3://bucket/key`` (no ``.``/``..``/empty segments,
    escapes, queries or control characters)."""
    parsed = urlparse(uri)
    key = parsed.path.lstrip("/")
    if (
        parsed.scheme != "s3"
        or not BUCKET.match(parsed.netloc or "")
        or UNSAFE.search(uri)
        or parsed.params
        or any(part in (".", "..") for part in key.split("/"))
        or "//" in key
    ):
        raise Invalid("expected s3://bucket/key", code="invalid_uri")
    return parsed.netloc, key


def _prefix(uri: str) -> tuple[str, str]:
    """A store or allow-list entry as ``(bucket, key prefix ending in '/' or '')``."""
    parsed = urlparse(uri)
    key = parsed.path.strip("/")
    return parsed.netloc, f"{key}/" if key else ""


def _service_stores(settings: Settings) -> list[tuple[str, str]]:
    urls = [settings.resolved_storage_url, settings.audit_anchor_url or ""]
    return [_prefix(url) for url in urls if url.startswith("s3://")]


def allowed(settings: Settings, tenant: str, uri: str) -> str:
    """``uri`` if a model may be registered from it, else :class:`Invalid`."""
    bucket, key = split(uri)
    if not key:
        raise Invalid("expected s3://bucket/key", code="invalid_uri")
    for store_bucket, store_prefix in _service_stores(settings):
        if bucket == store_bucket and (key + "/").startswith(store_prefix):
            raise Invalid(f"{uri} is not an allowed model location", code="uri_not_allowed")
    prefixes = [p.replace("{tenant}", tenant) for p in settings.model_uri_prefixes]
    for prefix in prefixes:
        allowed_bucket, allowed_prefix = _prefix(prefix)
        if bucket == allowed_bucket and (key + "/").startswith(allowed_prefix):
            return uri
    where = ", ".join(prefixes) if prefixes else "none on this deployment"
    raise Invalid(
        f"{uri} is not an allowed model location (allowed prefixes: {where})",
        code="uri_not_allowed",
    )
