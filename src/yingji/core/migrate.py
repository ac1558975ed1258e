"""Running and checking the Alembic history (``yingji db upgrade``, ``/readyz``, drift check)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

ROOT = Path(__file__).resolve().parents[3]


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url``; call from synchronous code (or a thread)."""
    command.upgrade(alembic_config(url), revision)


def check_drift(url: str) -> None:
    """Raise if the models and the migration history disagree."""
    command.check(alembic_config(url))


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config("")).get_heads())


async def current_revisions(session: AsyncSession) -> set[str]:
    try:
        rows = await session.execute(text("SELECT version_num FROM alembic_version"))
    except Exception:
        return set()
    return {row[0] for row in rows}
