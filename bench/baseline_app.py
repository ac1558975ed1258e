"""The bare baseline server of ``bench.intake``: the least an intake endpoint must do.

``python -m bench.baseline_app --url DATABASE_URL --port P``

One process, bare Starlette (no FastAPI, no auth, no validation model, no matching), one route
``POST /api/v1/intake/reports`` that parses the same JSON body and does one INSERT of the same row
(the columns of Yingji's ``report`` table, with its unique key and indexes) into a table of its
own, ``bench_report``, in the same database, committed in one transaction before answering 201.
It runs through the same driver (aiosqlite / asyncpg) with the engine of
:class:`yingji.core.db.Database`, so durability (SQLite WAL, ``synchronous=FULL``, one writer at a
time; the PostgreSQL pool) and connection handling are the same as Yingji's, and under uvicorn
with the settings of ``yingji serve`` (uvloop, httptools, ``proxy_headers``, one worker).
A repeated ``channel`` + ``external_id`` answers 200, as Yingji does.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from sqlalchemy import Column, Index, MetaData, Table, UniqueConstraint, Uuid, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.types import NullType
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from yingji.core import clock
from yingji.core.db import Database
from yingji.core.ids import new_id
from yingji.intake.models import Report

TABLE = "bench_report"
CASUALTIES = ("dead", "injured", "missing", "trapped")


def mirror_of_report(metadata: MetaData) -> Table:
    """``bench_report``: the columns, unique key and indexes of ``report`` (no foreign key)."""
    source = Report.__table__
    assert isinstance(source, Table)
    columns = [
        # a foreign-key column's type is the referenced column's: Uuid for incident_id
        Column(
            c.name,
            Uuid() if isinstance(c.type, NullType) else c.type,
            primary_key=c.primary_key,
            nullable=c.nullable,
        )
        for c in source.columns
    ]
    indexes = [
        Index(
            f"ix_{TABLE}_{'_'.join(c.name for c in index.columns)}",
            *(c.name for c in index.columns),
        )
        for index in sorted(source.indexes, key=lambda i: str(i.name))
    ]
    return Table(
        TABLE,
        metadata,
        *columns,
        UniqueConstraint("channel", "external_id", name=f"uq_{TABLE}_channel_external_id"),
        *indexes,
    )


bench_metadata = MetaData()
bench_report = mirror_of_report(bench_metadata)


def row_of(body: dict[str, Any]) -> dict[str, Any]:
    """The row Yingji would store, minus what only its matching computes (left empty)."""
    now = clock.now()
    lon, lat = body.get("lon"), body.get("lat")
    casualties = body.get("casualties") or {}
    return {
        "id": new_id(),
        "channel": body["channel"],
        "external_id": body["external_id"],
        "received_at": now,
        "reporter_name": body.get("reporter_name"),
        "reporter_phone": body.get("reporter_phone"),
        "text": body["text"],
        "address": body.get("address"),
        "lon": lon,
        "lat": lat,
        "located": lon is not None and lat is not None,
        "location_source": "point" if lon is not None else None,
        "division_adcode": None,
        "division_path": None,
        "category_code": None,
        "category_source": None,
        "category_words": None,
        "suggested_level": None,
        "level_reason": None,
        **{name: int(casualties.get(name, 0)) for name in CASUALTIES},
        "status": "accepted",
        "incident_id": None,
        "match_outcome": None,
        "match_score": None,
        "match_reason": None,
        "suggestions": None,
        "source_ip": None,
        "created_by": None,
        "created_at": now,
    }


def create_app(url: str) -> Starlette:
    db = Database(url)
    statement = insert(bench_report)

    async def receive_report(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
            row = row_of(body)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return JSONResponse({"error": {"code": "invalid", "message": str(exc)}}, 422)
        try:
            async with db.unit_of_work() as session:
                await session.execute(statement, row)
        except IntegrityError:
            async with db.unit_of_work(readonly=True) as session:
                found = await session.scalar(
                    select(bench_report.c.id).where(
                        bench_report.c.channel == row["channel"],
                        bench_report.c.external_id == row["external_id"],
                    )
                )
            return JSONResponse({"report_id": str(found), "created": False}, 200)
        return JSONResponse({"report_id": str(row["id"]), "created": True}, 201)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with db.engine.begin() as conn:
            await conn.run_sync(bench_metadata.create_all)
        try:
            yield
        finally:
            await db.dispose()

    return Starlette(
        routes=[
            Route("/api/v1/intake/reports", receive_report, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline_app", description=__doc__)
    parser.add_argument("--url", required=True, help="the database (SQLAlchemy URL)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    # the uvicorn settings of `yingji serve` (src/yingji/cli.py)
    uvicorn.run(
        create_app(args.url),
        host=args.host,
        port=args.port,
        log_config=None,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        ws="websockets-sansio",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
