"""incident location source: whether the incident's point was measured or only named

Revision ID: 9c41d2e7a0b5
Revises: 6baba87142d3
Create Date: 2026-12-01 20:10:00.000000+00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "9c41d2e7a0b5"
down_revision: str | Sequence[str] | None = "6baba87142d3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema: the column, filled from the report whose point the incident took."""
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("location_source", sa.String(length=20), nullable=True))
    op.execute(
        """
        UPDATE incident SET location_source = (
            SELECT report.location_source FROM report
            WHERE report.incident_id = incident.id
              AND report.lon = incident.lon AND report.lat = incident.lat
            ORDER BY report.received_at
            LIMIT 1
        )
        WHERE incident.lon IS NOT NULL
        """
    )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_column("location_source")
