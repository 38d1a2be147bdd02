"""Worker nodes advertise what they offer (device, GPUs, job slots) and when they were seen.

Revision ID: 0009_workers
Revises: 0008_gpus_job_column
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_workers"
down_revision: str | None = "0008_gpus_job_column"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("device", sa.String(length=32), nullable=False),
        sa.Column("gpus", sa.Integer(), nullable=False),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("started_at", WHEN, nullable=False),
        sa.Column("seen_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_workers")),
    )


def downgrade() -> None:
    op.drop_table("workers")
