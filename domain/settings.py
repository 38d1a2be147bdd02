"""Service settings, read from ``SFD_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MiB = 1 << 20


class Settings(BaseSettings):
    """Everything the API and the job runners need to know about their surroundings."""

    model_config = SettingsConfigDict(env_prefix="SFD_", extra="ignore")

    home: Path = Field(Path(".sfd"), description="Folder for the default database and artifacts.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite in home.")
    storage_url: str | None = Field(
        None, description="file:///path or s3://bucket/prefix; default a folder in home."
    )
    s3_endpoint: str | None = Field(None, description="host:port of the S3 service.")
    s3_access_key: SecretStr | None = None
    s3_secret_key: SecretStr | None = None
    s3_secure: bool = Field(True, description="Use HTTPS to reach the S3 endpoint.")
    s3_region: str | None = None
    admin_api_key: SecretStr | None = Field(None, description="Bootstraps an admin API key.")
    admin_tenant: str = Field("default", description="Tenant of the bootstrap admin key.")
    runner: Literal["embedded", "celery", "none"] = Field(
        "embedded", description="embedded: jobs run in processes beside the API; none: only queue."
    )
    embedded_concurrency: int = Field(1, ge=1, le=64, description="Jobs run at once (embedded).")
    job_threads: int = Field(
        0,
        ge=0,
        le=1024,
        description="torch CPU threads of each job; 0: the cores divided by the jobs run at once.",
    )
    device: str = Field("cpu", description="Torch device the jobs run on.")
    max_job_gpus: int = Field(
        1,
        ge=1,
        le=64,
        description="Most GPUs (data-parallel processes) one job may ask for, whatever the live "
        "workers advertise (with workers, the largest live `sfd worker --gpus` may allow more).",
    )
    worker_advert_seconds: float = Field(
        30,
        gt=0,
        le=3600,
        description="Seconds between a worker node's adverts; a node is live while its last "
        "advert is under three of them old (the same on the API and the workers).",
    )
    database_pool_size: int = Field(
        10,
        ge=1,
        le=1000,
        description="PostgreSQL connections each API process keeps open; processes x (pool + "
        "overflow) must stay under the server's max_connections (100 by default).",
    )
    database_max_overflow: int = Field(
        10, ge=0, le=1000, description="Connections an API process may open past its pool."
    )
    max_body_bytes: int = Field(1 * MiB, ge=1024, description="Largest JSON request body.")
    max_upload_bytes: int = Field(2048 * MiB, ge=1024, description="Largest model archive.")
    max_unpacked_bytes: int = Field(8192 * MiB, ge=1024, description="Largest unpacked model.")
    max_archive_files: int = Field(1000, ge=1, description="Most files in a model archive.")
    model_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, description="Local folders whose models may be registered by path."
    )
    presign_ttl_seconds: int = Field(300, ge=1, le=7 * 86400)
    max_steps: int = Field(20_000, ge=1, description="Upper bound on a job's steps.")
    max_batch_size: int = Field(512, ge=1, description="Upper bound on a job's batch_size.")
    lease_seconds: int = Field(60, ge=5, description="A running job's lease, renewed by heartbeat.")
    max_attempts: int = Field(3, ge=1, description="Runs of a job before it is failed.")
    checkpoint_every: int = Field(0, ge=0, description="Steps between checkpoints (0: none).")
    broker_url: str = Field("redis://127.0.0.1:6379/0", description="Celery broker (celery).")
    celery_queue: str = Field("sfd-jobs", description="Queue the API sends jobs to (celery).")
    job_time_limit_seconds: int = Field(
        86_400, ge=60, description="Hard backstop on one job attempt's run time (celery)."
    )
    idempotency_ttl_seconds: int = Field(86_400, ge=60)
    auto_migrate: bool = Field(True, description="Upgrade the database when the API starts.")
    signing_key: SecretStr | None = Field(
        None,
        description="PEM Ed25519 private key signing certificates and audit checkpoints; "
        "default: a key file in home (made on first use).",
    )
    signing_retired_keys: str | None = Field(
        None,
        description="PEM public keys of earlier signing keys (concatenated), still trusted for "
        "verification; default: home/signing/retired.pem if present.",
    )
    model_uri_prefixes: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated s3://bucket/prefix/ allowed as model URIs ({tenant} is "
        "replaced by the caller's tenant); empty: URIs refused.",
    )
    max_model_parameters: int = Field(
        200_000_000, ge=1, description="Most parameters of an uploaded or referenced model."
    )
    max_model_channels: int = Field(
        2048, ge=1, description="Largest channel count (block_out_channels, hidden size)."
    )
    max_model_sample_size: int = Field(512, ge=1, description="Largest model sample_size.")
    max_model_classes: int = Field(1000, ge=1, description="Most classes of a model.")
    audit_checkpoint_seconds: float = Field(
        60.0, gt=0, le=60, description="Seconds between signed audit checkpoints (while busy)."
    )
    audit_anchor_url: str | None = Field(
        None, description="Store for signed audit checkpoints; default: the artifact store."
    )
    audit_object_lock_days: int = Field(
        0, ge=0, le=36_500, description="S3 Object Lock retention of checkpoints (0: none)."
    )
    probes: Literal["full", "quick", "off"] = Field(
        "full", description="Attack probes a job runs when its request names none."
    )
    forgetting_policy: dict[str, Any] = Field(
        default_factory=dict,
        description="JSON object of forgetting-policy overrides for this deployment (a job's "
        'own overrides win), e.g. {"max_forget_rate": 0.05}.',
    )
    max_queued_jobs_per_tenant: int = Field(
        100, ge=0, description="Most queued jobs of one tenant (0: no limit); more are a 429."
    )
    max_running_jobs_per_tenant: int = Field(
        0, ge=0, description="Most running jobs of one tenant (0: no limit); others wait."
    )
    max_steps_per_period: int = Field(
        0, ge=0, description="Most training steps one tenant may submit per period (0: no limit)."
    )
    quota_period_seconds: int = Field(86_400, ge=60, description="The steps quota's period.")
    tenant_quotas: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description='JSON overrides per tenant, e.g. {"acme": {"max_queued_jobs": 500, '
        '"max_running_jobs": 4, "max_steps_per_period": 1000000}}.',
    )
    tenant_weights: dict[str, float] = Field(
        default_factory=dict,
        description='JSON scheduling weights per tenant (default 1), e.g. {"acme": 3}: a '
        "tenant of weight 3 gets three times the job starts of a busy tenant of weight 1.",
    )
    fair_share_window_seconds: int = Field(
        3600, ge=1, description="Job starts this far back count towards a tenant's share."
    )
    rate_limit: str = Field(
        "100/second",
        description="Requests per API key, in the limits library's notation "
        "('100/second;2000/minute'); empty: no limit.",
    )
    rate_limit_storage_url: str | None = Field(
        None,
        description="Where request counts are kept: memory:// or redis://...; default: the "
        "broker with SFD_RUNNER=celery, else in-process.",
    )
    webhook_allow_private: bool = Field(
        False, description="Allow webhook URLs on loopback, link-local or private addresses."
    )
    webhook_timeout_seconds: float = Field(10, gt=0, le=60, description="Per delivery attempt.")
    webhook_retry_base_seconds: float = Field(
        5, gt=0, description="First retry delay; it doubles with each failed attempt."
    )
    webhook_retry_max_seconds: float = Field(3600, gt=0, description="Longest retry delay.")
    webhook_max_attempts: int = Field(20, ge=1, description="Attempts before a delivery fails.")
    webhook_disable_after_seconds: float = Field(
        5 * 86_400, gt=0, description="Disable an endpoint whose deliveries failed this long."
    )
    webhook_rotation_grace_seconds: float = Field(
        86_400,
        ge=0,
        description="After a secret rotation, deliveries are signed with the old secret too "
        "for this long (0: the old secret stops at once).",
    )
    webhook_poll_seconds: float = Field(
        1.0, gt=0, le=60, description="How often the outbox is checked for due deliveries."
    )
    artifact_retention_days: float = Field(
        0, ge=0, description="Delete a job's stored files this many days after it ended (0: keep)."
    )
    retention_sweep_seconds: float = Field(
        3600, gt=0, description="Seconds between retention sweeps (with a retention set)."
    )
    database_app_role: str | None = Field(
        None,
        description="PostgreSQL role the service runs as; `sfd db upgrade` grants it only "
        "what it needs.",
    )

    @field_validator("model_roots", mode="before")
    @classmethod
    def _split_roots(cls, value: object) -> object:
        if isinstance(value, str):
            return [part for part in value.split(os.pathsep) if part.strip()]
        return value

    @field_validator("model_uri_prefixes", mode="before")
    @classmethod
    def _split_prefixes(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("forgetting_policy")
    @classmethod
    def _check_policy(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value:  # the engine's own check: unknown fields and out-of-range limits refused
            from sfd_core.policy import ForgettingPolicy, PolicyError

            try:
                ForgettingPolicy.from_overrides(value)
            except PolicyError as exc:
                raise ValueError(f"SFD_FORGETTING_POLICY: {exc}") from None
        return value

    @field_validator("tenant_quotas")
    @classmethod
    def _check_quotas(cls, value: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
        known = {"max_queued_jobs", "max_running_jobs", "max_steps_per_period"}
        for tenant, limits in value.items():
            unknown = set(limits) - known
            if unknown or any(not isinstance(v, int) or v < 0 for v in limits.values()):
                raise ValueError(
                    f"SFD_TENANT_QUOTAS[{tenant!r}]: fields are {', '.join(sorted(known))}, "
                    "each a whole number >= 0"
                )
        return value

    @field_validator("tenant_weights")
    @classmethod
    def _check_weights(cls, value: dict[str, float]) -> dict[str, float]:
        if any(weight <= 0 for weight in value.values()):
            raise ValueError("SFD_TENANT_WEIGHTS: every weight must be greater than 0")
        return value

    @field_validator("rate_limit")
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        if value.strip():
            from limits import parse_many

            try:
                parse_many(value)
            except ValueError as exc:
                raise ValueError(f"SFD_RATE_LIMIT: {exc}") from None
        return value

    @property
    def resolved_rate_limit_storage_url(self) -> str:
        if self.rate_limit_storage_url:
            return self.rate_limit_storage_url
        if self.runner == "celery" and self.broker_url.startswith("redis"):
            return self.broker_url
        return "memory://"

    @cached_property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'sfd.db').resolve()}"

    @cached_property
    def resolved_storage_url(self) -> str:
        return self.storage_url or (self.home / "artifacts").resolve().as_uri()

    @property
    def cache_dir(self) -> Path:
        """Where model archives are unpacked for validation and for running jobs."""
        return self.home / "cache"

    def to_env(self, only: Iterable[str] | None = None) -> dict[str, str]:
        """These settings as ``SFD_*`` variables, for a child process or a worker (``only``:
        just those fields)."""
        env: dict[str, str] = {}
        wanted = None if only is None else set(only)
        for name, value in self.model_dump(exclude_none=True).items():
            if wanted is not None and name not in wanted:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if isinstance(value, list):
                value = os.pathsep.join(str(v) for v in value)
            elif isinstance(value, dict):
                value = json.dumps(value)
            env[f"SFD_{name.upper()}"] = str(value)
        return env


# What a job process needs to run a job, and nothing more: no admin key, no signing key.
JOB_SETTINGS = (
    "home",
    "job_threads",
    "database_url",
    "storage_url",
    "s3_endpoint",
    "s3_access_key",
    "s3_secret_key",
    "s3_secure",
    "s3_region",
    "device",
    "max_upload_bytes",
    "max_unpacked_bytes",
    "max_archive_files",
    "max_model_parameters",
    "max_model_channels",
    "max_model_sample_size",
    "max_model_classes",
    "lease_seconds",
    "max_attempts",
    "checkpoint_every",
    "forgetting_policy",
    "max_running_jobs_per_tenant",
    "tenant_quotas",
)
