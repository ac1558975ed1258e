"""The registry's service functions other parts build on (the importer writes rows in bulk with
them): each row checked like the API checks it, then inserted in one statement."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from sqlalchemy import select

from tests.resources.test_registry_api import TOWN_A, make_desks
from yingji.core import security
from yingji.core.db import Database
from yingji.core.errors import ValidationFailed
from yingji.resources import service
from yingji.resources.models import Resource

PATH_A = "330000/331126/331126101000/"


def values(code: str, **changes: Any) -> service.ResourceValues:
    """A hazard source as an import row gives it, with ``changes`` to its fields."""
    row = service.ResourceValues(
        kind="hazard_source",
        code=code,
        name=f"危险源{code}",
        division_adcode=TOWN_A,
        lon=119.05,
        lat=27.55,
        attrs={"hazard_type": "危险化学品", "substances": "液氯、氨", "risk_grade": "二级"},
    )
    return dataclasses.replace(row, **changes)


async def test_prepared_rows_insert_in_bulk_and_read_like_created_ones(db: Database) -> None:
    await make_desks(db)
    rows = [service.prepare_resource(values(f"HZ-{i}"), division_path=PATH_A) for i in range(300)]
    assert rows[0]["attrs"] == {
        "hazard_type": "chemical",
        "substances": ["液氯", "氨"],
        "risk_grade": "2",
    }
    assert rows[0]["tags"] == "|液氯|氨|" and rows[0]["status"] == "active"
    async with db.unit_of_work() as session:
        await service.insert_resources(session=session, rows=rows)
    async with db.unit_of_work(readonly=True) as session:
        found = await service.existing_codes(
            session=session, kind="hazard_source", codes=["HZ-0", "HZ-299", "HZ-300"]
        )
        listed, total = await service.list_resources(
            session=session,
            scope=security.SYSTEM.scope,
            filters=service.ResourceFilter(kind="hazard_source", tag="液氯"),
            limit=5,
        )
        facts = await service.resource_facts(session=session, resource_ids=set(found.values()))
    assert set(found) == {"HZ-0", "HZ-299"} and total == 300
    assert listed[0].code == "HZ-0"
    assert {f.code for f in facts.values()} == {"HZ-0", "HZ-299"}
    assert all(f.usable and f.division_path == PATH_A for f in facts.values())


def test_a_row_is_checked_without_the_database() -> None:
    with pytest.raises(ValidationFailed) as refused:
        service.prepare_resource(
            values("HZ-1", attrs={"hazard_type": "volcano"}), division_path=PATH_A
        )
    assert refused.value.details == {
        "field": "attrs.hazard_type",
        "problem": "not_a_choice",
        "params": {
            "value": "volcano",
            "allowed": ["chemical", "gas", "mine", "tailings", "fireworks", "geological", "other"],
        },
    }
    with pytest.raises(ValidationFailed) as refused:
        service.prepare_resource(values("bad code"), division_path=PATH_A)
    assert refused.value.details["field"] == "code"
    with pytest.raises(ValidationFailed) as refused:
        service.prepare_resource(values("HZ-2", name=" "), division_path=PATH_A)
    assert refused.value.details["field"] == "name"
    with pytest.raises(ValidationFailed) as refused:
        service.prepare_resource(values("HZ-3", lon=None), division_path=PATH_A)
    assert refused.value.code == "incomplete_point"


async def test_a_resource_outside_the_scope_is_not_found_by_the_service(db: Database) -> None:
    await make_desks(db)
    async with db.unit_of_work() as session:
        made = await service.create_resource(session=session, values=values("HZ-1"))
    town_b = security.Scope(division_path="330000/331126/331126102000/")
    async with db.unit_of_work(readonly=True) as session:
        assert (
            await service.get_resource(session=session, resource_id=made.id, scope=town_b) is None
        )
        assert (
            await service.resource_facts(session=session, resource_ids=[made.id], scope=town_b)
            == {}
        )
        row = await session.scalar(select(Resource))
    assert row is not None and row.id == made.id
