"""The intake's reference data (the classifier and matcher built from categories, divisions and
gazetteer places) is kept per process and rebuilt only when the data changed — also when another
process changed it, within CACHE_SECONDS."""

from __future__ import annotations

import pytest

from tests.factories import make_county_with_two_towns
from yingji.core import clock as yclock
from yingji.core.db import Database
from yingji.intake import service
from yingji.intake.models import Category


async def test_reference_data_is_rebuilt_only_after_it_changed(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_county_with_two_towns(db)
    now = [1000.0]
    monkeypatch.setattr(service.time, "monotonic", lambda: now[0])
    builds: list[int] = []

    async def build() -> int:
        builds.append(len(builds) + 1)
        return len(builds)

    async def read() -> int:
        async with db.unit_of_work(readonly=True) as session:
            return await service.cached(session, "test.knowledge", build)

    assert await read() == 1
    now[0] += service.CACHE_SECONDS + 1  # expired, but nothing changed: kept
    assert await read() == 1
    now[0] += service.CACHE_SECONDS + 1
    assert await read() == 1
    assert builds == [1]

    # another process adds a category (no forget() in this one): seen at the next expiry
    async with db.unit_of_work() as session:
        session.add(
            Category(
                code="test.other",
                parent_code=None,
                name_zh="测试",
                name_en="Test",
                rule={},
                active=True,
                updated_at=yclock.now(),
            )
        )
    assert await read() == 1  # still within CACHE_SECONDS of the last check
    now[0] += service.CACHE_SECONDS + 1
    assert await read() == 2
    assert builds == [1, 2]
