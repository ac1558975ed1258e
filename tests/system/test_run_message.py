"""The first minutes of a newcomer (`make run`): the seed says which demo account plays which
part for which unit, in Chinese and English; `yingji serve` ends with one plain line naming the
address and the account to sign in with; a port already taken is said plainly, in both
languages, before anything is migrated or seeded; `YINGJI_PORT` moves the server."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import YINGJI, free_port, served_env
from yingji.cli import app as cli
from yingji.core.db import Database
from yingji.org import seed

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another program listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def test_seed_demo_says_which_account_plays_which_part_for_which_unit(cli_env: None) -> None:
    result = CliRunner().invoke(cli, ["seed", "demo"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "password 密码: yingji-demo-2026" in result.output

    def part_of(username: str) -> str:
        at = next(i for i, line in enumerate(lines) if line.split()[:1] == [username])
        return lines[at] + "\n" + lines[at + 1]

    fire = part_of("liaison_fire")
    assert "联络员" in fire and "liaison" in fire and "庆元县消防救援大队" in fire
    town = part_of("liaison_zhukou")
    assert "竹口镇人民政府" in town
    officer = part_of("duty_officer")
    assert "值班员" in officer and "duty officer" in officer and "庆元县" in officer
    assert "指挥长" in part_of("commander") and "commander" in part_of("commander")
    # units and divisions by name, never by code
    assert not re.search(r"\b(D\d{3}|T\d{3}|V\d{6,}|\d{6,12})\b", result.output), result.output


def test_serve_check_port_is_silent_when_the_port_is_free(
    cli_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YINGJI_PORT", str(free_port()))
    result = CliRunner().invoke(cli, ["serve", "--check-port"])
    assert result.exit_code == 0, result.output
    assert result.output == ""


def test_a_taken_port_is_said_in_chinese_and_english_and_names_yingji_port(
    cli_env: None, monkeypatch: pytest.MonkeyPatch, taken_port: int
) -> None:
    monkeypatch.setenv("YINGJI_PORT", str(taken_port))
    result = CliRunner().invoke(cli, ["serve", "--check-port"])
    assert result.exit_code == 2
    assert f"port {taken_port} on 127.0.0.1 is taken" in result.output
    assert f"端口 {taken_port}（127.0.0.1）已被占用" in result.output
    assert f"YINGJI_PORT={taken_port + 1} make run" in result.output
    assert "Traceback" not in result.output


def test_serve_refuses_a_taken_port_before_it_opens_the_database(
    cli_env: None, monkeypatch: pytest.MonkeyPatch, taken_port: int, tmp_path: Path
) -> None:
    monkeypatch.setenv("YINGJI_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/none.db")
    result = CliRunner().invoke(cli, ["serve", "--port", str(taken_port)])
    assert result.exit_code == 2
    assert "is taken" in result.output and "database" not in result.output
    assert not (tmp_path / "none.db").exists()


def test_make_run_checks_the_port_before_migrating_and_seeding() -> None:
    planned = subprocess.run(
        [shutil.which("make") or "make", "-n", "run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    steps = [line for line in planned if "yingji " in line]
    assert [s.split("yingji ", 1)[1] for s in steps] == [
        "serve --check-port",
        "db upgrade",
        "seed demo",
        "serve",
    ]


async def test_serve_ends_with_one_plain_line_naming_the_address_and_the_demo_account(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    async with db.unit_of_work() as session:
        await seed.seed_demo(session=session)
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [YINGJI, "serve"],
            env=served_env(database_url, YINGJI_PORT=str(port)),
            stdout=out,
            stderr=subprocess.DEVNULL,
        )
    expected = (
        f"Yingji is serving http://127.0.0.1:{port} — sign in as duty_officer / yingji-demo-2026"
    )
    try:
        deadline = time.monotonic() + 60
        while expected not in log.read_text() and time.monotonic() < deadline:
            assert server.poll() is None, log.read_text()
            time.sleep(0.2)
        assert log.read_text().splitlines()[-1:] == [expected]
    finally:
        server.terminate()
        server.wait(timeout=15)
