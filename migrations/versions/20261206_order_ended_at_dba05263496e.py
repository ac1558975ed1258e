"""order ended_at: when an order left the open stages (its unit reads the incident until then)

Revision ID: dba05263496e
Revises: b81d4c2e9f36
Create Date: 2026-12-06 23:00:00.000000+00:00

A linkage unit reads the incident it holds an order on while the order is open and for
``YINGJI_ORDER_READ_DAYS`` (30) after it ended. Orders that ended before this revision take the
time of their completion or return, else their last change (an order is not changed once it has
left the open stages).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yingji.core.db

# revision identifiers, used by Alembic.
revision: str = "dba05263496e"
down_revision: str | Sequence[str] | None = "b81d4c2e9f36"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_STAGES = ("issued", "signed", "arrived")


def upgrade() -> None:
    """Upgrade schema: the column, filled for orders already ended."""
    with op.batch_alter_table("dispatch_order", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ended_at", yingji.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            "ix_dispatch_order_unit_id_ended_at", ["unit_id", "ended_at"], unique=False
        )
    order = sa.table(
        "dispatch_order",
        sa.column("stage", sa.String()),
        sa.column("ended_at", yingji.core.db.UTCDateTime(timezone=True)),
        sa.column("completed_at", yingji.core.db.UTCDateTime(timezone=True)),
        sa.column("returned_at", yingji.core.db.UTCDateTime(timezone=True)),
        sa.column("updated_at", yingji.core.db.UTCDateTime(timezone=True)),
    )
    op.get_bind().execute(
        order.update()
        .where(order.c.stage.not_in(OPEN_STAGES))
        .values(
            ended_at=sa.func.coalesce(order.c.completed_at, order.c.returned_at, order.c.updated_at)
        )
    )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("dispatch_order", schema=None) as batch_op:
        batch_op.drop_index("ix_dispatch_order_unit_id_ended_at")
        batch_op.drop_column("ended_at")
