"""Jobs carry their attack probes ("full", "quick", "off"), their forgetting-policy overrides
and the verdict their report earned ("forgotten", "not_forgotten"). Earlier jobs ran no probes.

Revision ID: 0004_verdict
Revises: 0003_security
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_verdict"
down_revision: str | None = "0003_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(
            sa.Column("probes", sa.String(length=8), nullable=False, server_default="off")
        )
        batch.add_column(sa.Column("policy", JSON, nullable=False, server_default="{}"))
        batch.add_column(sa.Column("verdict", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("verdict")
        batch.drop_column("policy")
        batch.drop_column("probes")
