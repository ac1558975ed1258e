"""reporting deadlines

Revision ID: 672f050e8951
Revises: e4e29950966a
Create Date: 2026-11-23 14:34:21.557524+00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "672f050e8951"
down_revision: str | Sequence[str] | None = "e4e29950966a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "reporting_deadline",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("category_prefix", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=4), nullable=False),
        sa.Column("phone_minutes", sa.Integer(), nullable=False),
        sa.Column("written_minutes", sa.Integer(), nullable=False),
        sa.Column("basis", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reporting_deadline")),
        sa.UniqueConstraint(
            "category_prefix", "level", name=op.f("uq_reporting_deadline_category_prefix_level")
        ),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("reporting_deadline")
