"""order photo: each photo uploaded for an order, typed by the server (反馈附图)

Revision ID: 3c8b3f1ddfbc
Revises: a6d1e0c4b7f2
Create Date: 2026-12-06 10:00:00.000000+00:00

A feedback used to carry whatever attachment dicts its client wrote, and the photo route served
the content type written there. From now on a feedback names photos uploaded for its order, and
type, name and size come from this table. Photos that existing feedback names with an allowed
image type are recorded here as they were (they passed the upload check of their day, and are
served with nosniff and a sandboxing CSP); any other entry is dropped from the feedback.
"""

import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import yingji.core.db

# revision identifiers, used by Alembic.
revision: str = "3c8b3f1ddfbc"
down_revision: str | Sequence[str] | None = "a6d1e0c4b7f2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")
SHA256 = re.compile(r"[0-9a-f]{64}")


def upgrade() -> None:
    """Upgrade schema: the table, filled from the photos existing feedback names."""
    op.create_table(
        "order_photo",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=100), nullable=True),
        sa.Column("uploaded_at", yingji.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["dispatch_order.id"],
            name=op.f("fk_order_photo_order_id_dispatch_order"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_photo")),
        sa.UniqueConstraint("order_id", "sha256", name=op.f("uq_order_photo_order_id_sha256")),
    )
    _record_existing_photos()


def _typed(item: Any) -> dict[str, Any] | None:
    """An attachment entry as the new shape, or None if it is not an allowed photo."""
    if not isinstance(item, dict) or item.get("content_type") not in PHOTO_TYPES:
        return None
    sha = item.get("sha256")
    if not isinstance(sha, str) or not SHA256.fullmatch(sha):
        return None
    size = item.get("size")
    return {
        "kind": "photo",
        "sha256": sha,
        "filename": str(item.get("filename") or "photo")[:200],
        "content_type": item["content_type"],
        "size": size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else 0,
    }


def _record_existing_photos() -> None:
    photo = sa.table(
        "order_photo",
        sa.column("order_id", sa.Uuid()),
        sa.column("sha256", sa.String()),
        sa.column("content_type", sa.String()),
        sa.column("filename", sa.String()),
        sa.column("size", sa.Integer()),
        sa.column("uploaded_by", sa.String()),
        sa.column("uploaded_at", yingji.core.db.UTCDateTime(timezone=True)),
    )
    feedback = sa.table(
        "order_feedback",
        sa.column("id", sa.BigInteger()),
        sa.column("order_id", sa.Uuid()),
        sa.column("at", yingji.core.db.UTCDateTime(timezone=True)),
        sa.column("attachments", yingji.core.db.JSONType),
        sa.column("by_user", sa.String()),
    )
    bind = op.get_bind()
    recorded: dict[tuple[Any, str], dict[str, Any]] = {}
    rows = bind.execute(
        sa.select(feedback).where(feedback.c.attachments.is_not(None)).order_by(feedback.c.id)
    ).all()
    for row in rows:
        items = row.attachments if isinstance(row.attachments, list) else []
        typed: list[dict[str, Any]] = []
        for entry in (t for t in (_typed(item) for item in items) if t is not None):
            key = (row.order_id, entry["sha256"])
            if key not in recorded:  # the first feedback naming a photo records it
                recorded[key] = entry
                bind.execute(
                    photo.insert().values(
                        order_id=row.order_id,
                        sha256=entry["sha256"],
                        content_type=entry["content_type"],
                        filename=entry["filename"],
                        size=entry["size"],
                        uploaded_by=row.by_user,
                        uploaded_at=row.at,
                    )
                )
            if recorded[key] not in typed:
                typed.append(recorded[key])
        if typed != items:
            bind.execute(
                feedback.update()
                .where(feedback.c.id == row.id)
                .values(attachments=typed if typed else sa.null())
            )


def downgrade() -> None:
    """Downgrade schema (feedback keeps its typed attachment entries)."""
    op.drop_table("order_photo")
