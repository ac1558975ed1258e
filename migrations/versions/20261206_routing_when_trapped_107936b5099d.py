"""routing rule when_trapped: a rule that applies only when people are trapped

Revision ID: 107936b5099d
Revises: 3e0671ea7b48
Create Date: 2026-12-06 23:30:00.000000+00:00

A routing rule with when_trapped names its unit only for an incident with people trapped
(the demo: 120 beside the fire brigade at a fire with people trapped). Existing rules apply as
before (false).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "107936b5099d"
down_revision: str | Sequence[str] | None = "3e0671ea7b48"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("routing_rule", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("when_trapped", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("routing_rule", schema=None) as batch_op:
        batch_op.drop_column("when_trapped")
