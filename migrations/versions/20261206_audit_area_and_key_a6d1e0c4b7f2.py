"""audit log: the subject's area (who may read a row) and the id of the key that signed it

Revision ID: a6d1e0c4b7f2
Revises: 3f7a1c9e5d20
Create Date: 2026-12-06 10:00:00.000000+00:00

Both columns are added empty: the table refuses UPDATE, so rows written before stay without an
area (read only by administrators of everything) and without a key id (verified as the unkeyed
prefix of the chain, core.audit). Plain ADD COLUMN on both databases: SQLite's batch mode would
copy the table and lose its append-only triggers.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "a6d1e0c4b7f2"
down_revision: str | Sequence[str] | None = "3f7a1c9e5d20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column("audit_log", sa.Column("division_path", sa.String(length=200), nullable=True))
    op.add_column("audit_log", sa.Column("key_id", sa.String(length=16), nullable=True))
    op.create_index(
        op.f("ix_audit_log_division_path"), "audit_log", ["division_path"], unique=False
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f("ix_audit_log_division_path"), table_name="audit_log")
    op.drop_column("audit_log", "key_id")
    op.drop_column("audit_log", "division_path")
