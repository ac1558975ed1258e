"""event audience: an event may be for everyone, and only for holders of a permission

Revision ID: 6baba87142d3
Revises: 63fdd2bbdbf4
Create Date: 2026-12-01 14:55:40.135601+00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "6baba87142d3"
down_revision: str | Sequence[str] | None = "63fdd2bbdbf4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("outbox_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("permission", sa.String(length=40), nullable=True))
        batch_op.add_column(
            sa.Column("everywhere", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("outbox_event", schema=None) as batch_op:
        batch_op.drop_column("everywhere")
        batch_op.drop_column("permission")
