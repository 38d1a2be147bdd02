"""Who is acting: an API key (with its tenant and scopes), a worker, or the system."""

from __future__ import annotations

from dataclasses import dataclass, field

SCOPES = (
    "jobs:read",
    "jobs:write",
    "models:write",
    "webhooks:write",
    "audit:read",
    "admin",
    "platform:admin",
)
# ``admin``: a tenant admin (every scope, keys of its own tenant only). ``platform:admin``: the
# operator, who may also manage keys of every tenant and see the whole audit chain's state.
TENANT_ADMIN = "admin"
PLATFORM_ADMIN = "platform:admin"


@dataclass(frozen=True)
class Actor:
    """The caller of a service function; recorded in the audit log by id, never by name."""

    tenant: str | None
    name: str
    key_id: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    request_id: str | None = None

    def has_scope(self, scope: str) -> bool:
        if scope in self.scopes or PLATFORM_ADMIN in self.scopes:
            return True
        return TENANT_ADMIN in self.scopes and scope != PLATFORM_ADMIN

    @property
    def is_platform_admin(self) -> bool:
        return PLATFORM_ADMIN in self.scopes

    @classmethod
    def worker(cls, worker_id: str, tenant: str | None) -> Actor:
        return cls(tenant=tenant, name=f"worker:{worker_id}")

    @classmethod
    def system(cls, tenant: str | None = None) -> Actor:
        return cls(tenant=tenant, name="system")
