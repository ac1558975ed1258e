"""order closed with its incident: a longer stage name and the moment the order ended

Revision ID: 5e0c7a9d13f4
Revises: dba05263496e
Create Date: 2026-12-06 23:00:00.000000+00:00

Closing or cancelling an incident ends each of its open orders in the stage
``closed_with_incident`` (20 characters: ``dispatch_order.stage`` grows from 12 to 24); the moment
is its ``ended_at`` (revision dba05263496e), which the KPIs judge its deadlines against.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "5e0c7a9d13f4"
down_revision: str | Sequence[str] | None = "dba05263496e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("dispatch_order", schema=None) as batch_op:
        batch_op.alter_column(
            "stage",
            existing_type=sa.String(length=12),
            type_=sa.String(length=24),
            existing_nullable=False,
        )


def downgrade() -> None:
    """Downgrade schema: orders that ended with their incident become ``cancelled``."""
    op.execute("UPDATE dispatch_order SET stage = 'cancelled' WHERE stage = 'closed_with_incident'")
    with op.batch_alter_table("dispatch_order", schema=None) as batch_op:
        batch_op.alter_column(
            "stage",
            existing_type=sa.String(length=24),
            type_=sa.String(length=12),
            existing_nullable=False,
        )
