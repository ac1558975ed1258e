"""Property-based fuzzing of the OpenAPI description: no generated request gets a 5xx.

The operations are cut into ``SHARDS`` shards (every ``SHARDS``-th path of the sorted document),
each fuzzed against a server and a database of its own, so that the fuzzing grows with the API
without one test outgrowing its time and so that parallel workers (pytest-xdist) share it out.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tests.factories import PASSWORD, make_county_with_two_towns
from yingji.core.clock import ManualClock
from yingji.core.db import Database

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
SHARDS = 6


def shard_pattern(paths: list[str], shard: int, shards: int = SHARDS) -> str:
    """A regular expression matching exactly every ``shards``-th of the sorted ``paths``,
    starting at ``shard``."""
    mine = sorted(paths)[shard::shards]
    return "^(" + "|".join(re.escape(path) for path in mine) + ")$"


def test_the_shards_cover_every_path_once() -> None:
    paths = ["/a/{id}", "/a", "/b:cap", "/c", "/d/{x}/e", "/f", "/g"]
    hits = [
        path
        for shard in range(SHARDS)
        for path in paths
        if re.match(shard_pattern(paths, shard), path)
    ]
    assert sorted(hits) == sorted(paths)
    assert not re.match(shard_pattern(paths, 0), "/a/{id}/more")


def _without_warnings(text: str) -> str:
    """Schemathesis' report without its WARNINGS section (advice on missing links), which
    would otherwise push the failures out of the assertion message."""
    sections = re.split(r"\n(?==+ [A-Z])", text)
    return "\n".join(part for part in sections if not re.match(r"=+ WARNINGS", part))


@pytest.mark.parametrize("shard", range(SHARDS))
async def test_no_generated_request_gets_a_server_error_and_the_admin_keeps_its_account(
    live_server: str, db: Database, clock: ManualClock, shard: int
) -> None:
    await make_county_with_two_towns(db)
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as c:
        token = (
            await c.post("/api/v1/auth/token", data={"username": "admin", "password": PASSWORD})
        ).json()["access_token"]
        paths = list((await c.get("/openapi.json")).json()["paths"])
    process = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS),
        "run",
        f"http://{live_server}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--header",
        f"Authorization: Bearer {token}",
        "--max-examples",
        os.environ.get("YINGJI_FUZZ_EXAMPLES", "25"),
        "--include-path-regex",
        shard_pattern(paths, shard),
        "--exclude-path-regex",
        "logout",
        "--seed",
        "20261123",
        "--phases",
        "coverage,fuzzing",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=300)
    text = output.decode(errors="replace")
    assert process.returncode == 0, _without_warnings(text)[-6000:]
    assert "Server error" not in text
    # whatever the fuzzer sent with the admin's token, the account is still there and still admin
    # (the fuzzer learns the name "admin" from the answers and tries wrong passwords with it from
    # the admin's own address: the delay that earns ends after at most 15 minutes)
    clock.advance(timedelta(minutes=16))
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as c:
        again = await c.post("/api/v1/auth/token", data={"username": "admin", "password": PASSWORD})
        assert again.status_code == 200, again.text
        me = await c.get(
            "/api/v1/auth/me",
            headers={"Authorization": f"Bearer {again.json()['access_token']}"},
        )
    assert me.status_code == 200
    assert "admin" in me.json()["roles"]
