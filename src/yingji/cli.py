"""The ``yingji`` command."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from yingji import registry
from yingji.app import create_app, ensure_reference_data, install_jobs
from yingji.core import audit, migrate, security
from yingji.core.db import Database
from yingji.core.errors import DomainError
from yingji.core.events import make_bus
from yingji.core.logs import configure_logging
from yingji.core.timers import TimerWorker
from yingji.dispatch import service as dispatch_service
from yingji.intake import service as intake_service
from yingji.org import flows as org_flows
from yingji.org import imports, seed
from yingji.settings import Settings, get_settings

app = typer.Typer(
    help="Yingji (应急) — integrated emergency command and linkage platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
seed_app = typer.Typer(help="Demo and reference data.", no_args_is_help=True)
user_app = typer.Typer(help="User accounts.", no_args_is_help=True)
import_app = typer.Typer(help="Import organisation data (all rows or none).", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(seed_app, name="seed")
app.add_typer(user_app, name="user")
app.add_typer(import_app, name="import")
app.add_typer(audit_app, name="audit")

console = Console()
err = Console(stderr=True)
_ = registry


def _settings() -> Settings:
    try:
        return get_settings()
    except ValueError as exc:
        err.print(f"[red]configuration refused:[/red] {exc}")
        raise typer.Exit(2) from exc


def _database(settings: Settings) -> Database:
    if settings.env == "test":
        security.configure_hasher(cheap=True)
    return Database(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)


def _fail(exc: DomainError) -> None:
    err.print(f"[red]{exc.code}[/red]: {exc.message}")
    details = exc.details if isinstance(exc.details, dict) else {}
    for problem in details.get("errors", [])[:200]:
        where = f"line {problem['line']}" + (
            f", {problem['field']}" if problem.get("field") else ""
        )
        err.print(f"  {where}: {problem['message']}")
    if details.get("error_count", 0) > 200:
        err.print(f"  … and {details['error_count'] - 200} more")
    raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    no_worker: Annotated[
        bool,
        typer.Option(
            "--no-worker", help="Serve HTTP and /ws only; run relay and timers in `yingji worker`."
        ),
    ] = False,
) -> None:
    """Serve the API, the web app and /ws (and, unless --no-worker, the relay and timers)."""
    settings = _settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    application = create_app(settings, run_worker=not no_worker)
    uvicorn.run(
        application,
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,
        proxy_headers=True,
        forwarded_allow_ips=",".join(settings.trusted_proxies),
        ws="websockets-sansio",
    )


@app.command()
def worker() -> None:
    """Run the outbox relay and the timer worker (no HTTP). Run as many as you like."""
    settings = _settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)

    async def run() -> None:
        db = _database(settings)
        bus = make_bus(settings.nats_url, settings.nats_stream)
        install_jobs(bus, db)
        timers = TimerWorker(
            db,
            batch=settings.timer_batch,
            concurrency=settings.timer_concurrency,
            lease_seconds=settings.timer_lease_seconds,
            max_attempts=settings.timer_max_attempts,
            poll_seconds=settings.timer_poll_seconds,
        )
        timers.start()
        await bus.start(db, run_relay=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        console.print(f"worker {timers.name} running", highlight=False)
        await stop.wait()
        await bus.stop()
        await timers.stop()
        await db.dispose()

    asyncio.run(run())


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Migrate the database to the newest schema (creates an SQLite file if needed)."""
    settings = _settings()
    _database(settings)  # creates the SQLite folder
    migrate.upgrade(settings.database_url, revision)

    async def reference() -> None:
        db = _database(settings)
        try:
            await ensure_reference_data(db)
        finally:
            await db.dispose()

    if revision == "head":
        asyncio.run(reference())
    console.print(f"database at {settings.database_url.split('@')[-1]} is at {revision}")


@db_app.command("check")
def db_check() -> None:
    """Fail if the models and the migration history have drifted apart."""
    settings = _settings()
    migrate.check_drift(settings.database_url)
    console.print("models and migrations agree")


@seed_app.command("demo")
def seed_demo(
    seed_value: Annotated[int, typer.Option("--seed", help="Random seed.")] = seed.DEMO_SEED,
) -> None:
    """Build the demo jurisdiction (庆元县: 19 towns, 353 villages, 92 departments, users)."""
    settings = _settings()

    async def run() -> seed.SeedReport:
        db = _database(settings)
        try:
            async with db.unit_of_work() as session:
                report = await seed.seed_demo(session=session, seed=seed_value)
                places = await intake_service.add_places(
                    session=session, places=seed.demo_places(seed_value)
                )
                if places:
                    console.print(f"added {places} gazetteer places")
                rules = await dispatch_service.add_routing_rules(
                    session=session, rules=dispatch_service.demo_routing()
                )
                if rules:
                    console.print(f"added {rules} routing rules")
                return report
        finally:
            await db.dispose()

    report = asyncio.run(run())
    if report.already:
        console.print("the demo jurisdiction is already there; nothing changed")
    else:
        console.print(
            f"seeded {report.divisions} divisions, {report.units} linkage units, "
            f"{report.people} people, {len(report.users)} users"
        )
    table = Table(title="demo accounts 演示账号")
    for column in ("username", "password", "roles", "scope"):
        table.add_column(column)
    for user in report.users:
        table.add_row(
            user.username,
            user.password,
            ", ".join(user.roles),
            user.division_adcode or user.unit_code or "全部 all",
        )
    console.print(table)


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Argument(help="Sign-in name.")],
    password: Annotated[str, typer.Option(help="Initial password (8+ characters).")],
    role: Annotated[
        list[str],
        typer.Option(help="Role; repeat for several: " + ", ".join(r.value for r in security.Role)),
    ],
    division: Annotated[
        str | None, typer.Option(help="Scope: this division's subtree (adcode).")
    ] = None,
    unit: Annotated[str | None, typer.Option(help="Scope: this linkage unit (code).")] = None,
    display_name: Annotated[str | None, typer.Option(help="Name shown in the app.")] = None,
) -> None:
    """Create a user account with roles and a data scope."""
    settings = _settings()

    async def run() -> None:
        db = _database(settings)
        try:
            async with db.unit_of_work() as session:
                await org_flows.create_user(
                    session=session,
                    principal=None,
                    data={
                        "username": username,
                        "password": password,
                        "roles": role,
                        "division_adcode": division,
                        "unit_code": unit,
                        "display_name": display_name,
                    },
                )
        finally:
            await db.dispose()

    if len(password) < 8:
        err.print("[red]password_too_short[/red]: use at least 8 characters")
        raise typer.Exit(1)
    try:
        asyncio.run(run())
    except DomainError as exc:
        _fail(exc)
    console.print(f"user {username} created with roles {', '.join(role)}")


def _import(kind: str, path: Path) -> None:
    settings = _settings()
    if not path.is_file():
        err.print(f"[red]file_not_found[/red]: {path}")
        raise typer.Exit(1)
    raw = path.read_bytes()
    parsed = (imports.parse_divisions if kind == "divisions" else imports.parse_units)(
        raw, path.name
    )
    flow = org_flows.import_divisions if kind == "divisions" else org_flows.import_units

    async def run() -> tuple[int, int]:
        db = _database(settings)
        try:
            with Progress(
                TextColumn(f"importing {kind}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=err,
                transient=False,
            ) as bar:
                task = bar.add_task(kind, total=len(parsed.rows))

                def progress(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                async with db.unit_of_work() as session:
                    return await flow(
                        session=session, principal=None, parsed=parsed, progress=progress
                    )
        finally:
            await db.dispose()

    try:
        created, updated = asyncio.run(run())
    except DomainError as exc:
        _fail(exc)
    console.print(f"{kind}: {created} created, {updated} updated")


@import_app.command("divisions")
def import_divisions(path: Annotated[Path, typer.Argument(help="CSV or GeoJSON file.")]) -> None:
    """Import divisions (adcode, name, level, parent_adcode, boundary …); all rows or none."""
    _import("divisions", path)


@import_app.command("units")
def import_units(path: Annotated[Path, typer.Argument(help="CSV or GeoJSON file.")]) -> None:
    """Import linkage units (code, name, kind, tier, division_adcode, parent_code …)."""
    _import("units", path)


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the audit hash chain; exit 1 and name the first broken link if it is not intact."""
    settings = _settings()

    async def run() -> audit.VerifyResult:
        db = _database(settings)
        try:
            async with db.unit_of_work(readonly=True) as session:
                return await audit.verify(session)
        finally:
            await db.dispose()

    result = asyncio.run(run())
    if result.intact:
        console.print(f"audit log intact: {result.checked} entries checked")
        return
    broken = result.first_break
    if broken is None:  # not intact means a break was found
        raise typer.Exit(1)
    err.print(
        f"[red]audit log broken[/red] at entry {broken.entry_id}: {broken.reason} "
        f"({result.checked} entries before it are intact)"
    )
    raise typer.Exit(1)


def main() -> None:  # pragma: no cover - console entry point
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
    sys.exit(0)
