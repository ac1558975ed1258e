"""The demo county ships a realistic set of resources of every kind, loaded once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from yingji.core import clock as clock_module
from yingji.core.clock import ManualClock
from yingji.core.db import Database
from yingji.org import seed
from yingji.resources import demo, flows
from yingji.resources.kinds import SPECS
from yingji.resources.models import Resource, StockBatch, StockMinimum


async def _load(db: Database) -> demo.DemoResourcesReport:
    async with db.unit_of_work() as session:
        await seed.seed_demo(session=session)
    async with db.unit_of_work() as session:
        return await demo.seed_demo_resources(session=session)


async def _snapshot(db: Database) -> tuple[object, ...]:
    async with db.unit_of_work(readonly=True) as session:
        rows = (
            await session.execute(
                select(Resource.kind, Resource.code, Resource.version, Resource.updated_at)
            )
        ).all()
        batches = await session.scalar(select(func.count()).select_from(StockBatch))
        return tuple(sorted(rows)), batches


async def test_demo_county_has_resources_of_every_kind(db: Database, clock: ManualClock) -> None:
    report = await _load(db)
    assert not report.already
    assert set(report.resources) == {kind.value for kind in SPECS}
    async with db.unit_of_work(readonly=True) as session:
        grouped = await session.execute(select(Resource.kind, func.count()).group_by(Resource.kind))
        per_kind = {row[0]: row[1] for row in grouped}
        warehouses = (
            await session.scalars(select(Resource).where(Resource.kind == "warehouse"))
        ).all()
        teams = (
            await session.scalars(select(Resource).where(Resource.kind == "rescue_team"))
        ).all()
        hazards = (
            await session.scalars(select(Resource).where(Resource.kind == "hazard_source"))
        ).all()
    assert per_kind == report.resources
    # a warehouse in each of the 19 towns and one for the county, each at a point in its area
    town_divisions = {w.division_adcode for w in warehouses if w.division_adcode != "331126"}
    assert len(town_divisions) == 19 and len(warehouses) == 20
    assert all(w.lon is not None and w.owner_unit_id is not None for w in warehouses)
    # the 25 rescue teams are the demo's rescue_team units, extended
    assert len(teams) == 25 and all(t.unit_id is not None and t.attrs for t in teams)
    assert any("|water_rescue|" in t.tags for t in teams)
    # hazard sources at the industrial park in 屏都街道
    park = [h for h in hazards if h.code.startswith("QY-HZ-P")]
    assert len(park) >= 5 and {h.division_adcode for h in park} == {"331126002000"}


async def test_demo_stock_has_batches_near_expiry_and_an_item_below_minimum(
    db: Database, clock: ManualClock
) -> None:
    await _load(db)
    soon = clock_module.now().date() + timedelta(days=30)
    async with db.unit_of_work(readonly=True) as session:
        batches = (await session.scalars(select(StockBatch))).all()
        minimums = (await session.scalars(select(StockMinimum))).all()
    assert any(b.expires_on is not None and b.expires_on <= soon for b in batches)
    assert all(b.expires_on is None or b.expires_on > clock_module.now().date() for b in batches)
    totals: dict[tuple[object, object], int] = {}
    for b in batches:
        totals[(b.warehouse_id, b.item_id)] = (
            totals.get((b.warehouse_id, b.item_id), 0) + b.quantity
        )
    below = [m for m in minimums if totals.get((m.warehouse_id, m.item_id), 0) < m.minimum]
    assert len(below) == 1


async def test_seeding_the_demo_resources_twice_changes_nothing(
    db: Database, clock: ManualClock
) -> None:
    await _load(db)
    before = await _snapshot(db)
    clock.advance(timedelta(hours=1))
    async with db.unit_of_work() as session:
        again = await demo.seed_demo_resources(session=session)
    assert again.already
    assert await _snapshot(db) == before


async def test_team_rows_the_registry_made_for_bare_units_get_the_teams_fields(
    db: Database, clock: ManualClock
) -> None:
    async with db.unit_of_work() as session:
        await seed.seed_demo(session=session)
    async with db.unit_of_work() as session:
        await flows.ensure_team_rows(session)  # what the next start does for a bare unit
    async with db.unit_of_work() as session:
        report = await demo.seed_demo_resources(session=session)
    assert report.resources["rescue_team"] == 25
    async with db.unit_of_work(readonly=True) as session:
        teams = (
            await session.scalars(select(Resource).where(Resource.kind == "rescue_team"))
        ).all()
    assert len(teams) == 25 and all(t.attrs.get("capabilities") for t in teams)
    assert all(t.version == 2 for t in teams)
