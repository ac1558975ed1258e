"""Alembic environment: one history for SQLite and PostgreSQL, run through the async engine."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from yingji.registry import metadata
from yingji.settings import get_settings

# PostGIS columns and indexes exist only on PostgreSQL and are created by hand in migrations;
# the models stay portable, so the drift check leaves them out.
POSTGIS_ONLY = {"geom", "geog"}


def include_object(
    obj: Any,  # noqa: ARG001 - Alembic's hook signature
    name: str | None,
    type_: str,
    reflected: bool,  # noqa: ARG001
    compare_to: Any,  # noqa: ARG001
) -> bool:
    if type_ == "column" and name in POSTGIS_ONLY:
        return False
    if type_ == "index" and name and (name.endswith("_geom") or name.endswith("_geog")):
        return False
    return not (type_ == "table" and name == "spatial_ref_sys")


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_online() -> None:
    url = context.config.attributes.get("url") or get_settings().database_url
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(run_with)
        await connection.commit()
    await engine.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_with(connection)
else:
    asyncio.run(run_online())
