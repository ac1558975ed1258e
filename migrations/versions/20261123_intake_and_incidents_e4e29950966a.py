"""intake and incidents

Revision ID: e4e29950966a
Revises: f0c48dd2e848
Create Date: 2026-11-23 14:23:42.304348+00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import yingji.core.db

# revision identifiers, used by Alembic.
revision: str = "e4e29950966a"
down_revision: str | Sequence[str] | None = "f0c48dd2e848"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "category",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("parent_code", sa.String(length=64), nullable=True),
        sa.Column("name_zh", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column(
            "rule",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", yingji.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_category")),
    )
    op.create_table(
        "incident",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("category_code", sa.String(length=64), nullable=True),
        sa.Column("level", sa.String(length=4), nullable=False),
        sa.Column("level_reason", sa.String(length=300), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("division_adcode", sa.String(length=12), nullable=True),
        sa.Column("division_path", sa.String(length=200), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("first_reported_at", yingji.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_reported_at", yingji.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("report_count", sa.Integer(), nullable=False),
        sa.Column("dead", sa.Integer(), nullable=False),
        sa.Column("injured", sa.Integer(), nullable=False),
        sa.Column("missing", sa.Integer(), nullable=False),
        sa.Column("trapped", sa.Integer(), nullable=False),
        sa.Column("verified_at", yingji.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", yingji.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.String(length=300), nullable=True),
        sa.Column("merged_into_id", sa.Uuid(), nullable=True),
        sa.Column("first_report_due_at", yingji.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("first_report_at", yingji.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", yingji.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", yingji.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merged_into_id"],
            ["incident.id"],
            name=op.f("fk_incident_merged_into_id_incident"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident")),
        sa.UniqueConstraint("number", name=op.f("uq_incident_number")),
    )
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_category_code"), ["category_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_incident_division_adcode"), ["division_adcode"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_incident_division_path"), ["division_path"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_incident_first_reported_at"), ["first_reported_at"], unique=False
        )
        batch_op.create_index("ix_incident_lon_lat", ["lon", "lat"], unique=False)
        batch_op.create_index(batch_op.f("ix_incident_state"), ["state"], unique=False)
        batch_op.create_index(
            "ix_incident_state_last_reported_at", ["state", "last_reported_at"], unique=False
        )

    op.create_table(
        "place",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "aliases",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("kind", sa.String(length=40), nullable=True),
        sa.Column("division_adcode", sa.String(length=12), nullable=True),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_place")),
    )
    with op.batch_alter_table("place", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_place_name"), ["name"], unique=False)

    op.create_table(
        "incident_timeline",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("at", yingji.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("actor_name", sa.String(length=100), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_timeline_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_timeline")),
    )
    with op.batch_alter_table("incident_timeline", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_timeline_incident_id"), ["incident_id"], unique=False
        )

    op.create_table(
        "report",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=False),
        sa.Column("received_at", yingji.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reporter_name", sa.String(length=100), nullable=True),
        sa.Column("reporter_phone", sa.String(length=40), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("located", sa.Boolean(), nullable=False),
        sa.Column("location_source", sa.String(length=20), nullable=True),
        sa.Column("division_adcode", sa.String(length=12), nullable=True),
        sa.Column("division_path", sa.String(length=200), nullable=True),
        sa.Column("category_code", sa.String(length=64), nullable=True),
        sa.Column("category_source", sa.String(length=20), nullable=True),
        sa.Column(
            "category_words",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("suggested_level", sa.String(length=4), nullable=True),
        sa.Column("level_reason", sa.String(length=300), nullable=True),
        sa.Column("dead", sa.Integer(), nullable=False),
        sa.Column("injured", sa.Integer(), nullable=False),
        sa.Column("missing", sa.Integer(), nullable=False),
        sa.Column("trapped", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=True),
        sa.Column("match_outcome", sa.String(length=16), nullable=True),
        sa.Column("match_score", sa.Float(), nullable=True),
        sa.Column("match_reason", sa.String(length=300), nullable=True),
        sa.Column(
            "suggestions",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("source_ip", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", yingji.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_report_incident_id_incident"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report")),
        sa.UniqueConstraint("channel", "external_id", name=op.f("uq_report_channel_external_id")),
    )
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_report_division_path"), ["division_path"], unique=False
        )
        batch_op.create_index(
            "ix_report_incident_id_received_at", ["incident_id", "received_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_report_located"), ["located"], unique=False)
        batch_op.create_index(batch_op.f("ix_report_received_at"), ["received_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_report_reporter_phone"), ["reporter_phone"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_report_status"), ["status"], unique=False)

    op.create_table(
        "attachment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", yingji.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
            name=op.f("fk_attachment_report_id_report"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachment")),
    )
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attachment_report_id"), ["report_id"], unique=False)

    op.create_table(
        "notification",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("subject_type", sa.String(length=50), nullable=True),
        sa.Column("subject_id", sa.String(length=64), nullable=True),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.Column("created_at", yingji.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", yingji.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_notification_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_notification_dedupe_key")),
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notification_user_id_read_at", ["user_id", "read_at"], unique=False
        )

    with op.batch_alter_table("outbox_event", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "user_ids",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
                nullable=True,
            )
        )

    if op.get_bind().dialect.name == "postgresql":
        for table in ("incident", "place"):
            op.execute(f"ALTER TABLE {table} ADD COLUMN geog geography(Point, 4326)")
            op.execute(f"CREATE INDEX ix_{table}_geog ON {table} USING gist (geog)")
            op.execute(
                f"CREATE TRIGGER {table}_sync_geog BEFORE INSERT OR UPDATE OF lon, lat "
                f"ON {table} FOR EACH ROW EXECUTE FUNCTION point_sync_geog()"
            )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("outbox_event", schema=None) as batch_op:
        batch_op.drop_column("user_ids")

    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_user_id_read_at")

    op.drop_table("notification")
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attachment_report_id"))

    op.drop_table("attachment")
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_status"))
        batch_op.drop_index(batch_op.f("ix_report_reporter_phone"))
        batch_op.drop_index(batch_op.f("ix_report_received_at"))
        batch_op.drop_index(batch_op.f("ix_report_located"))
        batch_op.drop_index("ix_report_incident_id_received_at")
        batch_op.drop_index(batch_op.f("ix_report_division_path"))

    op.drop_table("report")
    with op.batch_alter_table("incident_timeline", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_timeline_incident_id"))

    op.drop_table("incident_timeline")
    with op.batch_alter_table("place", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_place_name"))

    op.drop_table("place")
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_state_last_reported_at")
        batch_op.drop_index(batch_op.f("ix_incident_state"))
        batch_op.drop_index("ix_incident_lon_lat")
        batch_op.drop_index(batch_op.f("ix_incident_first_reported_at"))
        batch_op.drop_index(batch_op.f("ix_incident_division_path"))
        batch_op.drop_index(batch_op.f("ix_incident_division_adcode"))
        batch_op.drop_index(batch_op.f("ix_incident_category_code"))

    op.drop_table("incident")
    op.drop_table("category")
