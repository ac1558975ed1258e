"""journal lock function: take the journal lock and read the audit chain's tail in one call

Revision ID: 3f7a1c9e5d20
Revises: 9c41d2e7a0b5
Create Date: 2026-12-04 22:40:00.000000+00:00

PostgreSQL only (SQLite has one writer at a time and needs no lock). The read must see what the
lock's previous holder committed: a VOLATILE plpgsql function takes a fresh snapshot for each
statement it runs, where one statement that locked and read would read from the snapshot taken
before it waited for the lock.
"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "3f7a1c9e5d20"
down_revision: str | Sequence[str] | None = "9c41d2e7a0b5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION yingji_lock_journal() RETURNS TABLE (tail_id bigint, tail_hash text)
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock(7406211);
            RETURN QUERY
                SELECT a.id::bigint, a.hash::text FROM audit_log AS a ORDER BY a.id DESC LIMIT 1;
        END $$
        """
    )


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS yingji_lock_journal()")
