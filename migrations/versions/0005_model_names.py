"""A tenant's model names are unique, so a job may name its model (``"model": "mine"``).

Earlier duplicates (say, two uploads both called "uploaded model") keep their oldest row's
name; the others get their id appended.

Revision ID: 0005_model_names
Revises: 0004_verdict
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005_model_names"
down_revision: str | None = "0004_verdict"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONSTRAINT = "uq_base_models_tenant_name"


def upgrade() -> None:
    op.execute(
        "UPDATE base_models SET name = substr(name, 1, 150) || ' (' || id || ')' "
        "WHERE tenant IS NOT NULL AND EXISTS (SELECT 1 FROM base_models AS older "
        "WHERE older.tenant = base_models.tenant AND older.name = base_models.name "
        "AND older.id < base_models.id)"
    )
    with op.batch_alter_table("base_models") as batch:
        batch.create_unique_constraint(CONSTRAINT, ["tenant", "name"])


def downgrade() -> None:
    with op.batch_alter_table("base_models") as batch:
        batch.drop_constraint(CONSTRAINT, type_="unique")
