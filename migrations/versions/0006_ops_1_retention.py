"""Retention and deletion: when a job's stored files, a whole job or a model were deleted.

Rows stay as tombstones (the audit log and certificates name them); only the stored data goes.

Revision ID: 0006_ops_1_retention
Revises: 0005_model_names
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_ops_1_retention"
down_revision: str | None = "0005_model_names"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("artifacts") as batch:
        batch.add_column(sa.Column("deleted_at", WHEN, nullable=True))
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("artifacts_deleted_at", WHEN, nullable=True))
        batch.add_column(sa.Column("deleted_at", WHEN, nullable=True))
    with op.batch_alter_table("base_models") as batch:
        batch.add_column(sa.Column("deleted_at", WHEN, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("base_models") as batch:
        batch.drop_column("deleted_at")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("deleted_at")
        batch.drop_column("artifacts_deleted_at")
    with op.batch_alter_table("artifacts") as batch:
        batch.drop_column("deleted_at")
