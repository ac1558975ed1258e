"""reasons as codes: timeline entries, level and match reasons, routing choices as {code, params}

Revision ID: 3e0671ea7b48
Revises: 5e0c7a9d13f4
Create Date: 2026-12-06 23:00:00.000000+00:00

The screens word every reason and timeline entry in the reader's language from a code and its
parameters (``yingji.core.reasons``). Timeline rows written before get the code ``legacy``,
whose words are the row's ``summary``; reports, incidents and orders written before keep their
text reasons, which the screens show while the ``*_why`` column is empty.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yingji.core.db

# revision identifiers, used by Alembic.
revision: str = "3e0671ea7b48"
down_revision: str | Sequence[str] | None = "5e0c7a9d13f4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = yingji.core.db.JSONType


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("incident_timeline", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("code", sa.String(length=60), server_default="legacy", nullable=False)
        )
        batch_op.add_column(sa.Column("params", JSON, nullable=True))
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("level_why", JSON, nullable=True))
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.add_column(sa.Column("level_why", JSON, nullable=True))
        batch_op.add_column(sa.Column("match_why", JSON, nullable=True))
    with op.batch_alter_table("dispatch_order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chosen_why", JSON, nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("dispatch_order", schema=None) as batch_op:
        batch_op.drop_column("chosen_why")
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.drop_column("match_why")
        batch_op.drop_column("level_why")
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_column("level_why")
    with op.batch_alter_table("incident_timeline", schema=None) as batch_op:
        batch_op.drop_column("params")
        batch_op.drop_column("code")
