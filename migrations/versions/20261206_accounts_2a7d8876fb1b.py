"""accounts: user names unique regardless of case; sign-in throttling by delay

Revision ID: 2a7d8876fb1b
Revises: 3c8b3f1ddfbc
Create Date: 2026-12-06 12:00:00.000000+00:00

``user_account.username_key`` is the name in lower case (computed here in Python, as the
application computes it, so SQLite and PostgreSQL agree), unique. Two existing accounts whose
names differ only by case stop the upgrade with their names: rename one first.

``login_throttle`` gets the columns of the delay policy; its rows (counts of recent failures
under the old keys) are dropped, which forgets at most one window of failures.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import yingji.core.db

# revision identifiers, used by Alembic.
revision: str = "2a7d8876fb1b"
down_revision: str | Sequence[str] | None = "3c8b3f1ddfbc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    bind = op.get_bind()
    users = bind.execute(sa.text("SELECT id, username FROM user_account")).all()
    seen: dict[str, str] = {}
    clashes: list[str] = []
    for _, username in users:
        key = username.lower()
        if key in seen:
            clashes.append(f"{seen[key]!r} and {username!r}")
        seen.setdefault(key, username)
    if clashes:
        raise RuntimeError(
            "user names must differ by more than case; rename one account of each pair "
            f"(column user_account.username) and upgrade again: {'; '.join(clashes)}"
        )
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("username_key", sa.String(length=64), nullable=True))
    for user_id, username in users:  # the id as read, untyped: each dialect takes its own back
        bind.execute(
            sa.text("UPDATE user_account SET username_key = :key WHERE id = :id"),
            {"key": username.lower(), "id": user_id},
        )
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.alter_column("username_key", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_user_account_username_key"), ["username_key"]
        )

    op.execute("DELETE FROM login_throttle")
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_failure_at", yingji.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("last_success_at", yingji.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("expires_at", yingji.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_login_throttle_expires_at"), ["expires_at"])


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_throttle_expires_at"))
        batch_op.drop_column("expires_at")
        batch_op.drop_column("last_success_at")
        batch_op.drop_column("last_failure_at")
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_user_account_username_key"), type_="unique")
        batch_op.drop_column("username_key")
