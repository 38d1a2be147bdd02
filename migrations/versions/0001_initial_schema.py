"""Initial schema: api keys, base models, jobs and their events, artifacts, idempotency keys,
and the append-only audit log (its head row, and triggers refusing UPDATE/DELETE/TRUNCATE).

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
GENESIS_HASH = "0" * 64

POSTGRES_AUDIT_GUARD = [
    """
    CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP;
    END
    $$
    """,
    """
    CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()
    """,
    """
    CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()
    """,
]
SQLITE_AUDIT_GUARD = [
    """
    CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    BEGIN SELECT RAISE(ABORT, 'audit_events is append-only (UPDATE refused)'); END
    """,
    """
    CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    BEGIN SELECT RAISE(ABORT, 'audit_events is append-only (DELETE refused)'); END
    """,
]


def upgrade() -> None:
    op.create_table("api_keys",
    sa.Column("id", sa.String(length=40), nullable=False),
    sa.Column("tenant", sa.String(length=64), nullable=False),
    sa.Column("name", sa.String(length=200), nullable=False),
    sa.Column("scopes", JSON, nullable=False),
    sa.Column("secret_sha256", sa.String(length=64), nullable=False),
    sa.Column("prefix", sa.String(length=16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.String(length=40), nullable=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    sa.UniqueConstraint("secret_sha256", name=op.f("uq_api_keys_secret_sha256"))
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_tenant"), ["tenant"], unique=False)

    op.create_table("audit_events",
    sa.Column("seq", BIGINT_ID, autoincrement=False, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("tenant", sa.String(length=64), nullable=True),
    sa.Column("actor_key_id", sa.String(length=40), nullable=True),
    sa.Column("actor", sa.String(length=80), nullable=False),
    sa.Column("action", sa.String(length=64), nullable=False),
    sa.Column("object_type", sa.String(length=32), nullable=False),
    sa.Column("object_id", sa.String(length=64), nullable=False),
    sa.Column("request_id", sa.String(length=64), nullable=True),
    sa.Column("data", JSON, nullable=False),
    sa.Column("prev_hash", sa.String(length=64), nullable=False),
    sa.Column("hash", sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_events"))
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_object_id"), ["object_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_tenant"), ["tenant"], unique=False)

    op.create_table("audit_head",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("seq", BIGINT_ID, nullable=False),
    sa.Column("hash", sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head"))
    )
    op.create_table("base_models",
    sa.Column("id", sa.String(length=40), nullable=False),
    sa.Column("tenant", sa.String(length=64), nullable=True),
    sa.Column("name", sa.String(length=200), nullable=False),
    sa.Column("source_type", sa.String(length=16), nullable=False),
    sa.Column("source", sa.Text(), nullable=False),
    sa.Column("sha256", sa.String(length=64), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("class_names", JSON, nullable=True),
    sa.Column("sample_shape", JSON, nullable=False),
    sa.Column("size_bytes", sa.BigInteger(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by_key_id", sa.String(length=40), nullable=True),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_base_models"))
    )
    with op.batch_alter_table("base_models", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_base_models_tenant"), ["tenant"], unique=False)

    op.create_table("idempotency_keys",
    sa.Column("tenant", sa.String(length=64), nullable=False),
    sa.Column("key", sa.String(length=255), nullable=False),
    sa.Column("request_sha256", sa.String(length=64), nullable=False),
    sa.Column("response_status", sa.Integer(), nullable=True),
    sa.Column("response_body", JSON, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("tenant", "key", name=op.f("pk_idempotency_keys"))
    )
    op.create_table("jobs",
    sa.Column("id", sa.String(length=40), nullable=False),
    sa.Column("tenant", sa.String(length=64), nullable=False),
    sa.Column("created_by_key_id", sa.String(length=40), nullable=True),
    sa.Column("model_id", sa.String(length=40), nullable=False),
    sa.Column("unsafe", JSON, nullable=False),
    sa.Column("surrogate", JSON, nullable=True),
    sa.Column("surrogate_mode", sa.String(length=16), nullable=False),
    sa.Column("steps", sa.Integer(), nullable=False),
    sa.Column("seed", sa.Integer(), nullable=False),
    sa.Column("eval_samples_per_class", sa.Integer(), nullable=False),
    sa.Column("hyperparameters", JSON, nullable=False),
    sa.Column("metadata", JSON, nullable=False),
    sa.Column("request_sha256", sa.String(length=64), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("progress_step", sa.Integer(), nullable=False),
    sa.Column("progress_total", sa.Integer(), nullable=False),
    sa.Column("progress_phase", sa.String(length=16), nullable=True),
    sa.Column("eta_seconds", sa.Float(), nullable=True),
    sa.Column("latest_losses", JSON, nullable=True),
    sa.Column("latest_metrics", JSON, nullable=True),
    sa.Column("error_code", sa.String(length=64), nullable=True),
    sa.Column("error_message", sa.Text(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("worker_id", sa.String(length=128), nullable=True),
    sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("attempt", sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs"))
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jobs_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_tenant"), ["tenant"], unique=False)
        batch_op.create_index("ix_jobs_tenant_status_id", ["tenant", "status", "id"], unique=False)

    op.create_table("artifacts",
    sa.Column("id", sa.String(length=40), nullable=False),
    sa.Column("job_id", sa.String(length=40), nullable=False),
    sa.Column("tenant", sa.String(length=64), nullable=False),
    sa.Column("name", sa.String(length=64), nullable=False),
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("sha256", sa.String(length=64), nullable=False),
    sa.Column("content_type", sa.String(length=100), nullable=False),
    sa.Column("storage_key", sa.String(length=300), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_artifacts_job_id_jobs"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_artifacts")),
    sa.UniqueConstraint("job_id", "name", name="uq_artifacts_job_id_name")
    )
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_artifacts_job_id"), ["job_id"], unique=False)

    op.create_table("job_events",
    sa.Column("seq", BIGINT_ID, autoincrement=True, nullable=False),
    sa.Column("job_id", sa.String(length=40), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("type", sa.String(length=16), nullable=False),
    sa.Column("data", JSON, nullable=False),
    sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_job_events_job_id_jobs"), ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("seq", name=op.f("pk_job_events"))
    )
    with op.batch_alter_table("job_events", schema=None) as batch_op:
        batch_op.create_index("ix_job_events_job_id_seq", ["job_id", "seq"], unique=False)

    op.bulk_insert(
        sa.table("audit_head", sa.column("id"), sa.column("seq"), sa.column("hash")),
        [{"id": 1, "seq": 0, "hash": GENESIS_HASH}],
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRES_AUDIT_GUARD if postgres else SQLITE_AUDIT_GUARD:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_events_no_truncate ON audit_events")
        op.execute("DROP TRIGGER audit_events_no_update_delete ON audit_events")
        op.execute("DROP FUNCTION audit_events_append_only()")
    else:
        op.execute("DROP TRIGGER audit_events_no_update")
        op.execute("DROP TRIGGER audit_events_no_delete")
    with op.batch_alter_table("job_events", schema=None) as batch_op:
        batch_op.drop_index("ix_job_events_job_id_seq")

    op.drop_table("job_events")
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_artifacts_job_id"))

    op.drop_table("artifacts")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_tenant_status_id")
        batch_op.drop_index(batch_op.f("ix_jobs_tenant"))
        batch_op.drop_index(batch_op.f("ix_jobs_status"))

    op.drop_table("jobs")
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("base_models", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_base_models_tenant"))

    op.drop_table("base_models")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_tenant"))
        batch_op.drop_index(batch_op.f("ix_audit_events_object_id"))
        batch_op.drop_index(batch_op.f("ix_audit_events_created_at"))
        batch_op.drop_index(batch_op.f("ix_audit_events_action"))

    op.drop_table("audit_events")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_tenant"))

    op.drop_table("api_keys")
