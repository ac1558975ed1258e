"""The nearest-first questions answer the same on PostGIS and on the portable path."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from tests.conftest import PG_URL
from yingji.core import security
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.org import seed
from yingji.resources import demo, spatial
from yingji.resources.models import SupplyItem

pytestmark = pytest.mark.skipif(
    not PG_URL, reason="needs PostgreSQL + PostGIS: set YINGJI_TEST_DATABASE_URL"
)

EVERYTHING = security.SYSTEM.scope
TOWN = security.Scope(division_path="330000/331100/331126/331126100000/")


def sample_points(n: int) -> list[tuple[float, float]]:
    rng = random.Random(18)
    return [(rng.uniform(118.75, 119.35), rng.uniform(27.40, 27.85)) for _ in range(n)]


def same(a: list[spatial.NearHit], b: list[spatial.NearHit]) -> None:
    assert [h.resource.code for h in a] == [h.resource.code for h in b]
    assert [h.available_quantity for h in a] == [h.available_quantity for h in b]
    for x, y in zip(a, b, strict=True):
        assert abs(x.distance_m - y.distance_m) < 0.05


async def test_postgis_and_portable_paths_give_the_same_answers(
    db: Database, clock: ManualClock
) -> None:
    async with db.unit_of_work() as session:
        await seed.seed_demo(session=session)
    async with db.unit_of_work() as session:
        await demo.seed_demo_resources(session=session)
    async with db.unit_of_work(readonly=True) as session:
        items = {i.code: i.id for i in await session.scalars(select(SupplyItem))}
        queries = [
            spatial.NearQuery("rescue_team"),
            spatial.NearQuery("rescue_team", statuses=frozenset({"standby"}), tag="water_rescue"),
            spatial.NearQuery("warehouse", item_ids=frozenset({items["tent"]}), min_quantity=35),
            spatial.NearQuery("shelter", with_room=True, max_m=8000),
            spatial.NearQuery("hazard_source", max_m=5000),
            spatial.NearQuery("video_point", statuses=frozenset({"online"}), max_m=20_000),
            spatial.NearQuery("protection_target", max_m=3000),
        ]
        for lon, lat in sample_points(25):
            for scope in (EVERYTHING, TOWN):
                for query in queries:
                    postgis = await spatial.nearest(
                        session, scope=scope, lon=lon, lat=lat, query=query, n=10
                    )
                    portable = await spatial.nearest(
                        session, scope=scope, lon=lon, lat=lat, query=query, n=10, portable=True
                    )
                    same(postgis, portable)
            for category in ("natural.flood", "accident.power_outage", None):
                a = await spatial.surroundings(
                    session,
                    scope=EVERYTHING,
                    lon=lon,
                    lat=lat,
                    radius_m=4000,
                    category_code=category,
                )
                b = await spatial.surroundings(
                    session,
                    scope=EVERYTHING,
                    lon=lon,
                    lat=lat,
                    radius_m=4000,
                    category_code=category,
                    portable=True,
                )
                for group in (
                    "hazard_sources",
                    "protection_targets",
                    "teams",
                    "warehouses",
                    "shelters",
                    "video_points",
                    "medical_facilities",
                ):
                    same(getattr(a, group), getattr(b, group))
                assert a.stock == b.stock
        # the answers are not all empty: the demo county is around these points
        some = await spatial.nearest(
            session, scope=EVERYTHING, lon=119.06, lat=27.62, query=queries[0], n=10
        )
        assert len(some) == 10
