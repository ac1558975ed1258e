"""The spatial interface answers the same on both paths (PostGIS and shapely + SQL)."""

from __future__ import annotations

import random

import pytest

from tests.conftest import PG_URL
from yingji.core.db import Database
from yingji.gis import service as gis
from yingji.org import seed


def sample_points(n: int) -> list[tuple[float, float]]:
    rng = random.Random(7)
    return [(rng.uniform(118.75, 119.35), rng.uniform(27.40, 27.85)) for _ in range(n)]


async def test_portable_point_in_division_finds_the_deepest_division(db: Database, clock) -> None:
    async with db.unit_of_work() as session:
        await seed.seed_demo(session=session)
    async with db.unit_of_work(readonly=True) as session:
        village = await gis.division_at(session, lon=119.0626, lat=27.6192, portable=True)
        town = await gis.division_at(
            session, lon=119.0626, lat=27.6192, level="town", portable=True
        )
        outside = await gis.division_at(session, lon=121.5, lat=31.2, portable=True)
    assert village is not None and len(village) == 12 and not village.endswith("000")
    assert town is not None and village.startswith(town[:9])
    assert outside is None


async def test_vectorised_lookup_agrees_with_one_by_one(db: Database, clock) -> None:
    async with db.unit_of_work() as session:
        await seed.seed_demo(session=session)
    points = sample_points(60)
    async with db.unit_of_work(readonly=True) as session:
        many = await gis.divisions_covering(session, points=points, level="village")
        one_by_one = [
            await gis.division_at(session, lon=x, lat=y, level="village", portable=True)
            for x, y in points
        ]
    assert many == one_by_one
    assert sum(code is not None for code in many) > 20


@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL + PostGIS: set YINGJI_TEST_DATABASE_URL")
async def test_postgis_and_portable_paths_give_the_same_answers(db: Database, clock) -> None:
    async with db.unit_of_work() as session:
        await seed.seed_demo(session=session)
    async with db.unit_of_work(readonly=True) as session:
        for lon, lat in sample_points(150):
            for level in (None, "town"):
                postgis = await gis.division_at(session, lon=lon, lat=lat, level=level)
                portable = await gis.division_at(
                    session, lon=lon, lat=lat, level=level, portable=True
                )
                assert postgis == portable, (lon, lat, level)
        for lon, lat in sample_points(20):
            postgis_hits = await gis.units_near(session, lon=lon, lat=lat, radius_m=5000)
            portable_hits = await gis.units_near(
                session, lon=lon, lat=lat, radius_m=5000, portable=True
            )
            assert [h.key for h in postgis_hits] == [h.key for h in portable_hits]
            for a, b in zip(postgis_hits, portable_hits, strict=True):
                assert abs(a.distance_m - b.distance_m) < 0.05
