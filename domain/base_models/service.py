"""Registering base models and resolving them to something the engine can load."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from sqlalchemy import func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain import archive
from domain.actor import Actor
from domain.audit import service as audit
from domain.base_models import allowlist, cache, fetch
from domain.base_models.models import BaseModelRecord
from domain.db import Database, utcnow
from domain.errors import Conflict, Forbidden, Gone, Invalid, NotFound
from domain.ids import new_id
from domain.jobs import states
from domain.jobs.models import Job
from domain.pagination import Page, paginate
from domain.settings import Settings
from domain.storage import Storage
from sfd_core.job import ModelSummary, describe_model
from sfd_core.limits import ModelLimits, ModelTooLarge
from sfd_core.loading import BUNDLED_MODELS, ModelLoadError
from sfd_core.presets import default_steps as engine_default_steps

log = logging.getLogger(__name__)


def archive_key(model_id: str) -> str:
    return f"models/{model_id}/model.tar"


def model_limits(settings: Settings) -> ModelLimits:
    return ModelLimits(
        max_parameters=settings.max_model_parameters,
        max_channels=settings.max_model_channels,
        max_sample_size=settings.max_model_sample_size,
        max_classes=settings.max_model_classes,
    )


def _redact(message: str, root: Path) -> str:
    """``message`` with the server's folders cut out: the caller sees paths inside its model."""
    for folder in (str(root.resolve()), str(root)):
        message = message.replace(folder + "/", "").replace(folder, "the model")
    return message


def _describe(settings: Settings, folder: Path) -> ModelSummary:
    """Load an untrusted model once, its config checked against the limits before any weight
    is allocated; any failure is the model's fault (422), told without server paths."""
    try:
        return describe_model(str(folder), model_limits(settings))
    except ModelTooLarge as exc:
        raise Invalid(_redact(str(exc), folder), code="model_too_large") from None
    except ModelLoadError as exc:
        raise Invalid(_redact(str(exc), folder), code="invalid_model") from None
    except Exception as exc:  # allocator failures, library errors: nothing internal leaks
        log.warning("model at %s failed to load", folder, exc_info=True)
        raise Invalid(
            f"the model cannot be loaded ({type(exc).__name__}); check its config and weights",
            code="invalid_model",
        ) from None


def _record(
    actor: Actor | None,
    name: str | None,
    source_type: str,
    source: str,
    summary: ModelSummary,
    size: int,
) -> BaseModelRecord:
    """A row; a model registered without a name is named by its id."""
    model_id = name if source_type == "bundled" and name else new_id("model")
    return BaseModelRecord(
        id=model_id,
        tenant=actor.tenant if actor else None,
        name=name or model_id,
        source_type=source_type,
        source=source,
        sha256=summary.sha256,
        kind=summary.kind,
        # A text model's own prompts stand in its classes: jobs are checked against them.
        class_names=summary.class_names if summary.kind == "class" else summary.prompts,
        sample_shape=list(summary.sample_shape),
        size_bytes=size,
        created_by_key_id=actor.key_id if actor else None,
    )


def _folder_size(path: Path) -> int:
    return (
        sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        if path.is_dir()
        else path.stat().st_size
    )


def _insert_if_absent(session: Session, record: BaseModelRecord) -> None:
    """INSERT ... ON CONFLICT DO NOTHING: concurrent first uses of a bundled model race."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    values = {c.key: getattr(record, c.key) for c in BaseModelRecord.__table__.columns}
    values["created_at"] = utcnow()
    session.execute(dialect.insert(BaseModelRecord).values(values).on_conflict_do_nothing())


def ensure_bundled(session: Session, name: str | None = None) -> None:
    """Rows for the bundled models (visible to every tenant), described on first use."""
    for bundled, path in BUNDLED_MODELS.items():
        if (name is not None and bundled != name) or session.get(BaseModelRecord, bundled):
            continue
        try:
            summary = describe_model(bundled)
        except ModelLoadError as exc:
            log.warning("bundled model %s is not available: %s", bundled, exc)
            continue
        record = _record(None, bundled, "bundled", bundled, summary, _folder_size(path))
        _insert_if_absent(session, record)


def get_visible(
    session: Session, tenant: str, model_id: str, *, lock: bool = False
) -> BaseModelRecord:
    """The tenant's model (by id, or by the name it was registered under) or a bundled one;
    404 for anything else (another tenant's too), 410 for a deleted one. ``lock``: hold a
    shared row lock (PostgreSQL) until the transaction ends."""
    by_id = select(BaseModelRecord).where(
        BaseModelRecord.id == model_id,
        or_(BaseModelRecord.tenant == tenant, BaseModelRecord.tenant.is_(None)),
    )
    by_name = select(BaseModelRecord).where(
        BaseModelRecord.tenant == tenant, BaseModelRecord.name == model_id
    )
    if lock:
        by_id, by_name = by_id.with_for_update(read=True), by_name.with_for_update(read=True)
    model = session.scalar(by_id)
    if model is None and model_id in BUNDLED_MODELS:  # its row is written on first use
        ensure_bundled(session, model_id)
        model = session.scalar(by_id)
    model = model or session.scalar(by_name)
    if model is None:
        raise NotFound(f"no model {model_id!r}", code="model_not_found")
    if model.deleted_at is not None:
        raise Gone(
            f"model {model.id} was deleted on {model.deleted_at:%Y-%m-%d %H:%M} UTC",
            code="model_deleted",
        )
    return model


def get_for_job(session: Session, tenant: str, model_id: str) -> BaseModelRecord:
    """A job's model, deleted or not (certificates and job pages name it)."""
    model = session.scalar(
        select(BaseModelRecord).where(
            BaseModelRecord.id == model_id,
            or_(BaseModelRecord.tenant == tenant, BaseModelRecord.tenant.is_(None)),
        )
    )
    if model is None:
        raise NotFound(f"no model {model_id!r}", code="model_not_found")
    return model


def list_visible(
    session: Session, tenant: str, *, after: str | None, limit: int
) -> Page[BaseModelRecord]:
    ensure_bundled(session)
    query = select(BaseModelRecord).where(
        or_(BaseModelRecord.tenant == tenant, BaseModelRecord.tenant.is_(None)),
        BaseModelRecord.deleted_at.is_(None),
    )
    return paginate(session, query, BaseModelRecord.id, after=after, limit=limit)


def check_name(session: Session, tenant: str, name: str | None) -> None:
    """A new model's name must not be a bundled model's nor one the tenant already uses
    (jobs name their model by it); 409 otherwise."""
    if name is None:
        return
    if name in BUNDLED_MODELS:
        raise Conflict(
            f"{name!r} is the name of a bundled model; choose another name",
            code="model_name_reserved",
        )
    taken = select(BaseModelRecord.id).where(
        BaseModelRecord.tenant == tenant, BaseModelRecord.name == name
    )
    if session.scalar(taken) is not None:
        raise Conflict(
            f"you already have a model named {name!r}; choose another name",
            code="model_name_taken",
        )


def _registered(session: Session, actor: Actor, model: BaseModelRecord) -> BaseModelRecord:
    assert actor.tenant is not None
    check_name(session, actor.tenant, model.name)
    session.add(model)
    try:
        session.flush()
    except IntegrityError:  # the same name registered concurrently
        raise Conflict(
            f"you already have a model named {model.name!r}; choose another name",
            code="model_name_taken",
        ) from None
    audit.record(
        session,
        actor,
        "model.registered",
        "model",
        model.id,
        {"sha256": model.sha256, "source_type": model.source_type},
    )
    return model


def register_archive(
    db: Database,
    settings: Settings,
    storage: Storage,
    actor: Actor,
    *,
    name: str | None,
    archive_path: Path,
) -> BaseModelRecord:
    """An uploaded tar/zip of a diffusers folder: unpacked, loaded once, stored, cached. On
    any failure nothing stays behind: no row, no stored archive."""
    assert actor.tenant is not None
    with db.session() as session:  # before the work: the name is refused or free
        check_name(session, actor.tenant, name)
    staging = fetch.staging_dir(settings)
    try:
        folder = fetch.unpack_archive(settings, archive_path, staging / "model")
        summary = _describe(settings, folder)
        model = _record(actor, name, "upload", "", summary, _folder_size(folder))
        model.source = archive_key(model.id)
        packed = staging / "model.tar"
        archive.pack(folder, packed)
        storage.put_file(model.source, packed, "application/x-tar")
        try:
            with db.session() as session:
                _registered(session, actor, model)
        except BaseException:
            storage.delete(model.source)
            raise
        fetch.adopt(settings, folder, summary.sha256)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return model


def register_uri(
    session: Session, settings: Settings, actor: Actor, *, name: str, uri: str
) -> BaseModelRecord:
    """A model in S3 (an archive object or a folder prefix), referenced, not copied: only
    under ``SFD_MODEL_URI_PREFIXES``, never in the service's own store."""
    assert actor.tenant is not None
    check_name(session, actor.tenant, name)
    uri = allowlist.allowed(settings, actor.tenant, uri)
    staging = fetch.staging_dir(settings)
    try:
        folder = fetch.fetch_s3(settings, uri, staging)
        summary = _describe(settings, folder)
        model = _record(actor, name, "uri", uri, summary, _folder_size(folder))
        fetch.adopt(settings, folder, summary.sha256)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return _registered(session, actor, model)


def register_path(
    session: Session, settings: Settings, actor: Actor, *, name: str, path: str
) -> BaseModelRecord:
    """A folder or safetensors file under one of ``SFD_MODEL_ROOTS``."""
    assert actor.tenant is not None
    check_name(session, actor.tenant, name)
    resolved = Path(path).expanduser().resolve()
    roots = [root.expanduser().resolve() for root in settings.model_roots]
    if not any(resolved.is_relative_to(root) for root in roots):
        raise Invalid(
            "local paths must lie under a folder listed in SFD_MODEL_ROOTS",
            code="path_not_allowed",
        )
    if not resolved.exists():
        raise Invalid(f"{path} does not exist", code="model_not_found")
    summary = _describe(settings, resolved)
    model = _record(actor, name, "path", str(resolved), summary, _folder_size(resolved))
    return _registered(session, actor, model)


def default_steps(model: BaseModelRecord) -> int:
    """The steps a job on ``model`` runs when its request names none (the engine's measured
    budget for a bundled model)."""
    name = model.source if model.source_type == "bundled" else ""
    return engine_default_steps(name)


def local_ref(settings: Settings, storage: Storage, model: BaseModelRecord) -> str:
    """What to hand the engine for ``model``: a bundled name or a verified local path."""
    if model.source_type == "bundled":
        return model.source
    if model.source_type == "path":
        return str(fetch.verified(Path(model.source), model.sha256, f"model {model.id}"))
    cached = cache.cache_path(settings, model.sha256)
    if cached.is_dir():
        return str(cached)
    staging = fetch.staging_dir(settings)
    try:
        if model.source_type == "upload":
            storage.download_file(model.source, staging / "model.tar")
            folder = fetch.unpack_archive(
                settings, staging / "model.tar", staging / "model", strip=False
            )
        else:
            folder = fetch.fetch_s3(settings, model.source, staging)
        fetch.verified(folder, model.sha256, f"model {model.id}")
        return str(fetch.adopt(settings, folder, model.sha256))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def delete(
    db: Database, settings: Settings, storage: Storage, actor: Actor, model_id: str
) -> BaseModelRecord:
    """Forget a tenant's model: its stored archive and this host's cached copy go, the row
    stays as a tombstone renamed to its id (jobs and certificates name it). Refused (409)
    while a queued or running job uses it; bundled models cannot be deleted (403)."""
    assert actor.tenant is not None
    with db.session() as session:
        model = get_visible(session, actor.tenant, model_id)
        if model.tenant is None:
            raise Forbidden(f"{model.id!r} is a bundled model", code="model_not_deletable")
        # The row lock makes job submissions that use it (FOR SHARE) wait or be seen.
        session.execute(
            select(BaseModelRecord.id).where(BaseModelRecord.id == model.id).with_for_update()
        )
        active = session.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.model_id == model.id, Job.status.not_in(states.TERMINAL))
        )
        if active:
            raise Conflict(
                f"model {model.id} is used by {active} queued or running job(s); cancel them "
                "or wait for them to end",
                code="model_in_use",
            )
        stored = model.source_type == "upload"
        model.deleted_at, model.name = utcnow(), model.id
        if stored:
            storage.delete(model.source)
        audit.record(
            session,
            actor,
            "model.deleted",
            "model",
            model.id,
            {"sha256": model.sha256, "source_type": model.source_type, "archive_deleted": stored},
        )
    with db.sessions() as session:  # the same sweep the workers run on their hosts
        cache.evict_deleted(session, settings)
    log.info("model %s deleted", model.id)
    return model
