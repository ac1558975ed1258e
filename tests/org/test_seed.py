from __future__ import annotations

import httpx
from sqlalchemy import func, select

from yingji.core.db import Database
from yingji.org import seed
from yingji.org.models import Division, LinkageUnit, UserAccount


async def test_demo_seed_builds_qingyuan_once_and_its_accounts_sign_in(
    client: httpx.AsyncClient, db: Database
) -> None:
    async with db.unit_of_work() as session:
        report = await seed.seed_demo(session=session)
    assert not report.already
    async with db.unit_of_work() as session:
        assert (await seed.seed_demo(session=session)).already
    async with db.unit_of_work(readonly=True) as session:
        levels = dict(
            (
                await session.execute(select(Division.level, func.count()).group_by(Division.level))
            ).all()
        )
        kinds = dict(
            (
                await session.execute(
                    select(LinkageUnit.kind, func.count()).group_by(LinkageUnit.kind)
                )
            ).all()
        )
        roles = {
            r for (rs,) in (await session.execute(select(UserAccount.roles))).all() for r in rs
        }
    assert levels["town"] == 19 and levels["village"] == 353 and levels["county"] == 1
    assert kinds["department"] == 92 and kinds["town"] == 19 and kinds["village"] == 353
    assert roles == {
        "admin",
        "commander",
        "duty_leader",
        "duty_officer",
        "unit_liaison",
        "field_worker",
        "expert",
        "viewer",
    }
    login = await client.post(
        "/api/v1/auth/login", json={"username": "liaison_zhukou", "password": "yingji-demo-2026"}
    )
    assert login.status_code == 200
    towns = (await client.get("/api/v1/divisions?level=town")).json()
    assert [d["name"] for d in towns["items"]] == ["竹口镇"]
