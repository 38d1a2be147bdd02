"""Jobs say how many GPUs (data-parallel processes) they run on; earlier jobs ran on one.

Revision ID: 0008_gpus_job_column
Revises: 0006_ops_2_webhooks
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_gpus_job_column"
down_revision: str | None = "0006_ops_2_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("gpus", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("gpus")
