"""Property-based fuzzing of the OpenAPI description: no generated request gets a 5xx."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import httpx

from tests.factories import PASSWORD, make_county_with_two_towns
from yingji.core.db import Database

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


async def test_no_generated_request_gets_a_server_error(live_server: str, db: Database) -> None:
    await make_county_with_two_towns(db)
    async with httpx.AsyncClient(base_url=f"http://{live_server}") as c:
        token = (
            await c.post("/api/v1/auth/token", data={"username": "admin", "password": PASSWORD})
        ).json()["access_token"]
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
        "--exclude-path-regex",
        "logout",
        "--seed",
        "20261123",
        "--phases",
        "coverage,fuzzing",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=500)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-4000:]
    assert "Server error" not in text
