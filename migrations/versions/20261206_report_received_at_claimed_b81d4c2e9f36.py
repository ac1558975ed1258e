"""report received_at claimed: the source's own time, kept when the server moved received_at

Revision ID: b81d4c2e9f36
Revises: 2a7d8876fb1b
Create Date: 2026-12-06 12:00:00.000000+00:00

A report's ``received_at`` is the source's claim, bounded by the server's clock to [now − 7 days,
now + 5 minutes]; a claim outside is kept in ``received_at_claimed``. The public-report throttle
counts by ``created_at`` (server time) per address, hence the index.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yingji.core.db

# revision identifiers, used by Alembic.
revision: str = "b81d4c2e9f36"
down_revision: str | Sequence[str] | None = "2a7d8876fb1b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "received_at_claimed", yingji.core.db.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.create_index(
            "ix_report_source_ip_created_at", ["source_ip", "created_at"], unique=False
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.drop_index("ix_report_source_ip_created_at")
        batch_op.drop_column("received_at_claimed")
