"""The ``yingji`` command."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import signal
import socket
import sys
from pathlib import Path
from typing import Annotated, cast

import typer
import uvicorn
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from yingji import domains, drill
from yingji.app import (
    create_app,
    ensure_reference_data,
    install_jobs,
    schedule_audit_anchor,
    start_workers,
    stop_workers,
)
from yingji.core import audit, clock, migrate, security
from yingji.core.db import Database, sqlite_file
from yingji.core.errors import DomainError
from yingji.core.events import make_bus
from yingji.core.logs import configure_logging
from yingji.dispatch import bulletin
from yingji.dispatch import service as dispatch_service
from yingji.duty import demo as duty_demo
from yingji.intake import service as intake_service
from yingji.notify import demo as notify_demo
from yingji.org import flows as org_flows
from yingji.org import imports, seed
from yingji.org import schemas as org_schemas
from yingji.resources import demo as resources_demo
from yingji.resources import exports as resource_exports
from yingji.resources import imports as resource_imports
from yingji.resources import tabular_io
from yingji.settings import DEFAULT_SECRET, Settings, get_settings

app = typer.Typer(
    help="Yingji (应急) — integrated emergency command and linkage platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
seed_app = typer.Typer(help="Demo and reference data.", no_args_is_help=True)
user_app = typer.Typer(help="User accounts.", no_args_is_help=True)
import_app = typer.Typer(help="Import organisation data (all rows or none).", no_args_is_help=True)
audit_app = typer.Typer(
    help="The audit log: a hash chain keyed with YINGJI_AUDIT_KEY (default: derived from "
    "YINGJI_SECRET_KEY), its head published every YINGJI_AUDIT_ANCHOR_MINUTES to "
    "YINGJI_AUDIT_ANCHOR_FILE and the log.",
    no_args_is_help=True,
)
app.add_typer(db_app, name="db")
app.add_typer(seed_app, name="seed")
app.add_typer(user_app, name="user")
app.add_typer(import_app, name="import")
app.add_typer(audit_app, name="audit")
report_app = typer.Typer(help="Periodic reports (通报).", no_args_is_help=True)
app.add_typer(report_app, name="report")
drill_app = typer.Typer(help="Drills (演练) played against a running Yingji.", no_args_is_help=True)
app.add_typer(drill_app, name="drill")
resources_app = typer.Typer(
    help="The resource databases (资源): import and export sheets, templates.", no_args_is_help=True
)
app.add_typer(resources_app, name="resources")

console = Console()
err = Console(stderr=True)


def _settings() -> Settings:
    try:
        return get_settings()
    except ValueError as exc:
        err.print(f"[red]configuration refused:[/red] {exc}")
        raise typer.Exit(2) from exc


def _database(settings: Settings) -> Database:
    if settings.env == "test":
        security.configure_hasher(cheap=True)
    audit.configure(audit.config_from(settings))  # what the command writes is signed with it
    return Database(
        settings.database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        pool_size=settings.db_pool_size,
    )


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


def _one_line(exc: BaseException) -> str:
    cause: BaseException = exc.orig if isinstance(exc, DBAPIError) and exc.orig else exc
    cause = cause.__cause__ or cause  # the driver's own error under SQLAlchemy's adapter
    first = (str(cause).strip().splitlines() or [""])[0]
    return f"{type(cause).__name__}: {first}"[:300]


def _check_database(settings: Settings) -> None:
    """Before serving: the database is there and answers, or one clear line and exit 2.

    ``serve`` never creates the database (``db upgrade`` does): a mistyped SQLite path would
    otherwise become a new, empty file.
    """
    where = settings.database_url.split("@")[-1]
    path = sqlite_file(settings.database_url)
    if path is not None and not path.is_file():
        err.print(
            f"[red]no database at {escape(str(path))}[/red]: create it with `yingji db upgrade`, "
            "or check YINGJI_DATABASE_URL",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2)

    async def answer() -> None:
        db = Database(settings.database_url, pool_size=1)
        try:
            async with db.unit_of_work(readonly=True) as session:
                await session.execute(text("SELECT 1"))
        finally:
            await db.dispose()

    try:
        asyncio.run(answer())
    except Exception as exc:
        err.print(
            f"[red]cannot open the database at {escape(where)}[/red]: {escape(_one_line(exc))}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2) from None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _warn_if_exposed(settings: Settings, host: str) -> None:
    """``YINGJI_ENV`` left at ``local`` on an address other machines reach: say so, loudly."""
    if settings.env != "local" or _loopback(host):
        return
    message = (
        f"YINGJI_ENV is local (the default) but yingji serve listens on {host}, which other "
        "machines reach: cookies are not Secure, /docs and /metrics are open"
        + (
            ", and the secret is the public local default"
            if settings.secret_key == DEFAULT_SECRET
            else ""
        )
        + ". For anything but a demo on this machine set YINGJI_ENV=production (or staging) "
        "and YINGJI_SECRET_KEY."
    )
    err.print(f"[bold red]WARNING[/bold red]: {escape(message)}", highlight=False, soft_wrap=True)
    logging.getLogger("yingji").warning(message)


def _check_port(host: str, port: int) -> None:
    """Before anything else: the address is free to listen on, or a clear message (in Chinese
    and English) and exit 2. Bound as uvicorn binds it, so a port left in TIME_WAIT is free."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
            return
        except OSError as exc:
            problem = exc
    if problem.errno == errno.EADDRINUSE:
        message = (
            f"port {port} on {host} is taken: another program listens there (an earlier "
            f"`make run` or `yingji serve`?). Stop it, or choose another port: "
            f"YINGJI_PORT={port + 1} make run\n"
            f"端口 {port}（{host}）已被占用：另一个程序正在监听（之前的 make run 或 yingji serve "
            f"还在运行？）。请先停止它，或换一个端口：YINGJI_PORT={port + 1} make run"
        )
    else:
        reason = problem.strerror or str(problem)
        message = (
            f"cannot listen on {host} port {port}: {reason}. Check YINGJI_HOST and YINGJI_PORT "
            f"(or --host and --port)\n"
            f"无法在 {host} 的端口 {port} 上监听：{reason}。请检查 YINGJI_HOST 和 YINGJI_PORT"
            f"（或 --host、--port）"
        )
    err.print(f"[red]{escape(message)}[/red]", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _url(host: str, port: int) -> str:
    """Where a browser on this machine reaches a server listening on ``host``."""
    if host in ("0.0.0.0", ""):  # noqa: S104 - naming the wildcard, not binding to it
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _serving_line(settings: Settings, url: str) -> str:
    """The one plain line ``serve`` prints once it listens; on a machine that is not exposed
    and holds the demo, with the account to sign in with."""
    line = f"Yingji is serving {url}"
    if settings.exposed:
        return line

    async def front_desk() -> tuple[str, str] | None:
        db = Database(settings.database_url, pool_size=1)
        try:
            async with db.unit_of_work(readonly=True) as session:
                return await seed.demo_sign_in(session=session)
        finally:
            await db.dispose()

    account = asyncio.run(front_desk())
    return f"{line} — sign in as {account[0]} / {account[1]}" if account else line


class _AnnouncingServer(uvicorn.Server):
    """uvicorn's server, saying one plain line once it listens."""

    def __init__(self, config: uvicorn.Config, line: str) -> None:
        super().__init__(config)
        self.line = line

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            typer.echo(self.line)
            sys.stdout.flush()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (YINGJI_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (YINGJI_PORT).")] = None,
    no_worker: Annotated[
        bool,
        typer.Option(
            "--no-worker", help="Serve HTTP and /ws only; run relay and timers in `yingji worker`."
        ),
    ] = False,
    check_port: Annotated[
        bool,
        typer.Option(
            "--check-port",
            help="Only check that the port is free to listen on: exit 0, or 2 with the reason.",
        ),
    ] = False,
) -> None:
    """Serve the API, the web app and /ws (and, unless --no-worker, the relay and timers).

    Says "Yingji is serving URL" once it listens (with the demo's account to sign in with, on a
    machine that is not exposed and holds the demo)."""
    settings = _settings()
    bind = host or settings.host
    listen = port or settings.port
    _check_port(bind, listen)
    if check_port:
        return
    configure_logging(settings.log_level, json_lines=settings.log_json)
    _check_database(settings)
    _warn_if_exposed(settings, bind)
    line = _serving_line(settings, _url(bind, listen))
    application = create_app(settings, run_worker=not no_worker)
    server = _AnnouncingServer(
        uvicorn.Config(
            application,
            host=bind,
            port=listen,
            log_config=None,
            proxy_headers=True,
            forwarded_allow_ips=",".join(settings.trusted_proxies),
            ws="websockets-sansio",
        ),
        line,
    )
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        raise typer.Exit(3)


@app.command()
def openapi(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Print the OpenAPI document of the HTTP API (the web app's types are generated from it)."""
    import json

    document = create_app(run_worker=False).openapi()
    text = json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")


@app.command()
def worker() -> None:
    """Run the outbox relay and the timer worker (no HTTP). Run as many as you like."""
    settings = _settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    if settings.clock_rate != 1.0:  # a drill: the worker keeps the servers' business time
        clock.set_clock(clock.SystemClock(settings.clock_rate))

    async def run() -> None:
        domains.install()  # what the domains hand the kernel, as create_app does
        db = _database(settings)
        bus = make_bus(settings.nats_url, settings.nats_stream)
        install_jobs(bus, db)
        timers, loops = start_workers(db, settings)
        await schedule_audit_anchor(db)
        await bus.start(db, run_relay=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        console.print(f"worker {timers.name} running", highlight=False)
        await stop.wait()
        await bus.stop()
        await stop_workers(timers, loops)
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
    """Build the demo jurisdiction (庆元县: 19 towns, 353 villages, 92 departments, users, and
    resources of every kind: warehouses with stock, shelters, teams, cameras …) and say which
    demo account plays which part, for which unit."""
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
                stock = await resources_demo.seed_demo_resources(session=session)
                if not stock.already:
                    counted = ", ".join(f"{n} {k}" for k, n in sorted(stock.resources.items()))
                    console.print(
                        f"added resources: {counted}; {stock.items} supply items, "
                        f"{stock.batches} stock batches"
                    )
                reach = await notify_demo.seed_demo_notify(
                    session=session, topic_root=settings.mqtt_topic_root
                )
                if not reach.already:
                    console.print(
                        f"added {reach.contact_points} contact points, "
                        f"{reach.devices} loudspeakers and LED boards"
                    )
                duty = await duty_demo.seed_demo_duty(session=session)
                if not duty.already:
                    console.print(
                        f"added the county's duty roster: {duty.shifts} shifts "
                        f"({', '.join(duty.months)})"
                    )
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
    _print_demo_accounts(report.accounts)


def _print_demo_accounts(accounts: list[seed.DemoAccount]) -> None:
    """Which demo account plays which part, for whom: plain lines (no table that a narrow
    terminal would wrap inside a unit's name)."""
    passwords = ", ".join(sorted({a.password for a in accounts}))
    typer.echo(f"demo accounts 演示账号 — password 密码: {passwords}")
    width = max((len(a.username) for a in accounts), default=0)
    for a in accounts:
        typer.echo(f"  {a.username:<{width}}  {a.part_zh} — {a.serves}")
        typer.echo(f"  {'':<{width}}  {a.part_en}")


def _new_password(from_stdin: bool) -> str:
    """The new account's password: the first line of standard input with ``--password-stdin``
    (scripts), else asked twice at the terminal without echo. Never an argument: arguments are
    visible to every user of the machine (``ps``) and kept in shell history."""
    if from_stdin:
        line = sys.stdin.readline()
        password = line.removesuffix("\n").removesuffix("\r")
        if not password:
            err.print("[red]password_missing[/red]: standard input held no password")
            raise typer.Exit(1)
        return password
    entered: str = typer.prompt(
        "Password 密码", hide_input=True, confirmation_prompt="Repeat it 再输入一次"
    )
    return entered


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Argument(help="Sign-in name (unique regardless of case).")],
    role: Annotated[
        list[str],
        typer.Option(help="Role; repeat for several: " + ", ".join(r.value for r in security.Role)),
    ],
    division: Annotated[
        str | None, typer.Option(help="Scope: this division's subtree (adcode).")
    ] = None,
    unit: Annotated[
        str | None,
        typer.Option(
            help="Scope: this linkage unit (code); required for liaisons and field workers."
        ),
    ] = None,
    display_name: Annotated[str | None, typer.Option(help="Name shown in the app.")] = None,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the password from the first line of standard input (for scripts); "
            "without it the password is asked for at the terminal, hidden, twice.",
        ),
    ] = False,
) -> None:
    """Create a user account with roles and a data scope.

    The password must have at least 10 characters of two kinds or more, must not contain the
    user name and must not be a common password.
    """
    settings = _settings()
    password = _new_password(password_stdin)

    async def run() -> None:
        db = _database(settings)
        try:
            async with db.unit_of_work() as session:
                await org_flows.create_user(
                    session=session,
                    principal=None,
                    # unchecked here: the service checks each field (a bad role is
                    # ``invalid_role``), as it always did for the command line
                    data=org_schemas.UserCreate.model_construct(
                        username=username,
                        password=password,
                        roles=cast(list[security.Role], role),
                        division_adcode=division,
                        unit_code=unit,
                        display_name=display_name,
                    ),
                )
        finally:
            await db.dispose()

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
def import_divisions(
    path: Annotated[Path, typer.Argument(help="CSV, .xlsx or GeoJSON file.")],
) -> None:
    """Import divisions (adcode, name, level, parent_adcode, boundary …); all rows or none."""
    _import("divisions", path)


@import_app.command("units")
def import_units(path: Annotated[Path, typer.Argument(help="CSV, .xlsx or GeoJSON file.")]) -> None:
    """Import linkage units (code, name, kind, tier, division_adcode, parent_code …)."""
    _import("units", path)


SHEET_KINDS = (*resource_imports.KINDS, tabular_io.STOCK)


def _sheet_kind(kind: str) -> str:
    if kind not in SHEET_KINDS:
        err.print(f"[red]unknown_kind[/red]: {escape(kind)} (one of {', '.join(SHEET_KINDS)})")
        raise typer.Exit(2)
    return kind


@resources_app.command("import")
def resources_import(
    kind: Annotated[str, typer.Argument(help="A kind (warehouse, shelter …) or stock.")],
    path: Annotated[Path, typer.Argument(help=".xlsx (first sheet) or CSV file.")],
) -> None:
    """Import a sheet of one kind (or of stock) as the console does: every row checked, then
    all stored or none; problems listed by line and column."""
    settings = _settings()
    kind = _sheet_kind(kind)
    if not path.is_file():
        err.print(f"[red]file_not_found[/red]: {path}")
        raise typer.Exit(1)
    content = path.read_bytes()

    async def run() -> dict[str, object]:
        db = _database(settings)
        try:
            async with db.unit_of_work() as session:
                job = await resource_imports.start_import(
                    session=session,
                    principal=security.SYSTEM,
                    kind=kind,
                    filename=path.name,
                    content=content,
                    claim=True,
                )
                job_id, token = job.id, job.token
            if token is None:  # start_import(claim=True) always gives one
                raise RuntimeError("the import was not claimed")
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=err,
            ) as bar:
                task = bar.add_task(f"checking {kind}", total=None)

                def report(state: str, done: int, total: int) -> None:
                    bar.update(task, description=f"{state} {kind}", completed=done, total=total)

                await resource_imports.run_job(db, job_id, token, report)
            async with db.unit_of_work(readonly=True) as session:
                return await resource_imports.job_summary(session=session, import_id=job_id)
        finally:
            await db.dispose()

    try:
        summary = asyncio.run(run())
    except DomainError as exc:
        _fail(exc)
    if summary["state"] != "done":
        _print_sheet_problems(summary)
        raise typer.Exit(1)
    console.print(f"{kind}: {summary['created']} created, {summary['updated']} updated")


def _print_sheet_problems(summary: dict[str, object]) -> None:
    errors = cast(list[dict[str, object]], summary["errors"])
    err.print(f"[red]import_failed[/red]: {summary['error_count']} problem(s); nothing was stored")
    for problem in errors[:200]:
        where = f"line {problem['line']}" + (f", {problem['column']}" if problem["column"] else "")
        err.print(f"  {escape(where)}: {problem['code']} {escape(str(problem['params']))}")
    if cast(int, summary["error_count"]) > 200:
        err.print(f"  … and {cast(int, summary['error_count']) - 200} more")


def _write_out(body: bytes, out: Path | None, name: str) -> None:
    target = out or Path(name)
    target.write_bytes(body)
    console.print(f"wrote {target} ({len(body)} bytes)")


@resources_app.command("export")
def resources_export(
    kind: Annotated[str, typer.Argument(help="A kind (warehouse, shelter …).")],
    fmt: Annotated[str, typer.Option("--format", help="xlsx, csv or geojson.")] = "xlsx",
    division: Annotated[str | None, typer.Option(help="Only this division's subtree.")] = None,
    out: Annotated[Path | None, typer.Option(help="File to write (default KIND.FORMAT).")] = None,
) -> None:
    """Export every resource of a kind (the import's layout, or GeoJSON)."""
    settings = _settings()
    if _sheet_kind(kind) == tabular_io.STOCK or fmt not in resource_exports.FORMATS:
        err.print("[red]invalid[/red]: export a resource kind as xlsx, csv or geojson")
        raise typer.Exit(2)

    async def run() -> bytes:
        db = _database(settings)
        try:
            async with db.unit_of_work(readonly=True) as session:
                return await resource_exports.export_kind(
                    session=session, kind=kind, division=division, fmt=fmt
                )
        finally:
            await db.dispose()

    try:
        body = asyncio.run(run())
    except DomainError as exc:
        _fail(exc)
    _write_out(body, out, f"{kind}.{fmt}")


@resources_app.command("template")
def resources_template(
    kind: Annotated[str, typer.Argument(help="A kind (warehouse, shelter …) or stock.")],
    fmt: Annotated[str, typer.Option("--format", help="xlsx or csv.")] = "xlsx",
    out: Annotated[
        Path | None, typer.Option(help="File to write (default template-KIND.FORMAT).")
    ] = None,
) -> None:
    """Write an empty sheet of a kind with its Chinese headers (.xlsx: and the allowed words)."""
    if fmt not in ("xlsx", "csv"):
        err.print("[red]invalid[/red]: a template is xlsx or csv")
        raise typer.Exit(2)
    _write_out(tabular_io.template(_sheet_kind(kind), fmt), out, f"template-{kind}.{fmt}")


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the audit chain against the last published head; exit 1 and name the first break.

    A break is a row altered, missing or re-hashed without the key, a row signed with another
    key, or a published head that is gone (the tail was deleted) or differs (the log was
    rewritten)."""
    settings = _settings()

    async def run() -> audit.VerifyResult:
        db = _database(settings)
        try:
            async with db.unit_of_work(readonly=True) as session:
                return await audit.verify(session, anchor_file=settings.audit_anchor_path)
        finally:
            await db.dispose()

    result = asyncio.run(run())
    against = (
        f", up to the published head {result.anchor.id}"
        if result.anchor
        else f" (no head published yet in {settings.audit_anchor_path})"
    )
    if result.intact:
        console.print(
            f"audit log intact: {result.checked} entries checked{against}", soft_wrap=True
        )
        return
    broken = result.first_break
    if broken is None:  # not intact means a break was found
        raise typer.Exit(1)
    err.print(
        f"[red]audit log broken[/red] at entry {broken.entry_id}: {broken.reason} "
        f"({result.checked} entries before it are intact)",
        soft_wrap=True,
    )
    if broken.code == "anchor_missing":
        err.print(
            f"If the database was replaced on purpose, move {settings.audit_anchor_path} aside.",
            soft_wrap=True,
        )
    raise typer.Exit(1)


@audit_app.command("anchor")
def audit_anchor() -> None:
    """Publish the audit chain's head now (timers do it every YINGJI_AUDIT_ANCHOR_MINUTES).

    The head (id, hash, time, a MAC over them) is appended to YINGJI_AUDIT_ANCHOR_FILE, logged.
    """
    settings = _settings()

    async def run() -> audit.Anchor:
        db = _database(settings)
        try:
            async with db.unit_of_work(readonly=True) as session:
                return await audit.publish_head(session)
        finally:
            await db.dispose()

    anchor = asyncio.run(run())
    console.print(
        f"audit head published: row {anchor.id}, hash {anchor.hash} → {settings.audit_anchor_path}",
        highlight=False,
        soft_wrap=True,
    )


@report_app.command("bulletin")
def report_bulletin(
    month: Annotated[str, typer.Option(help="The month, YYYY-MM (Asia/Shanghai).")],
    output: Annotated[
        Path | None, typer.Option("--out", help="File to write (default bulletin-MONTH.docx).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="docx or html.")] = "docx",
) -> None:
    """The monthly bulletin (月度通报): unit ranking by the five rates, every overdue order, and
    the statutory reports (信息报送) owed, late and missing by town."""
    settings = _settings()
    if fmt not in ("docx", "html"):
        err.print("[red]invalid_format[/red]: --format is docx or html")
        raise typer.Exit(1)

    async def run() -> bytes:
        domains.install()  # the sections other domains add (信息报送情况), as create_app does
        db = _database(settings)
        try:
            async with db.unit_of_work(readonly=True) as session:
                built = await bulletin.build_bulletin(
                    session=session, month=month, scope=security.SYSTEM.scope
                )
        finally:
            await db.dispose()
        if fmt == "html":
            return bulletin.render_html(built).encode()
        return bulletin.render_docx(built)

    try:
        data = asyncio.run(run())
    except DomainError as exc:
        _fail(exc)
    target = output or Path(f"bulletin-{month}.{fmt}")
    target.write_bytes(data)
    console.print(f"wrote {target} ({len(data):,} bytes)")


@drill_app.command("run")
def drill_run(
    scenario: Annotated[str, typer.Option(help="Scenario: " + ", ".join(drill.SCENARIOS))] = (
        "typhoon"
    ),
    speed: Annotated[
        float,
        typer.Option(
            min=1,
            max=3600,
            help="Business minutes per wall minute. Start the server with the same pace: "
            "YINGJI_ENV=drill YINGJI_CLOCK_RATE=<speed> yingji serve (60: one business minute "
            "per wall second, a day in 24 minutes).",
        ),
    ] = 60.0,
    url: Annotated[str, typer.Option(help="The running Yingji.")] = "http://127.0.0.1:8000",
    username: Annotated[str, typer.Option(help="The duty officer (值班员).")] = "duty_officer",
    password: Annotated[str, typer.Option(help="The duty officer's password.")] = (
        drill.DEMO_PASSWORD
    ),
    admin_username: Annotated[
        str, typer.Option(help="Administrator that creates the units' liaison accounts.")
    ] = "admin",
    admin_password: Annotated[str, typer.Option(help="The administrator's password.")] = (
        drill.DEMO_PASSWORD
    ),
    duration_minutes: Annotated[
        float, typer.Option(min=1, max=1440, help="Business minutes to play (a day: 1440).")
    ] = 1440.0,
    seed_value: Annotated[
        int, typer.Option("--seed", help="Random seed (same seed, same drill).")
    ] = 2026,
    reports_per_day: Annotated[
        int, typer.Option(min=1, max=20_000, help="Reports over a whole day.")
    ] = 360,
) -> None:
    """Play a generated typhoon day against a running Yingji over HTTP.

    Reports from every channel (110/119/12345/grid/sensor …) at places of the demo county, some
    duplicates; the duty officer verifies, dispatches, closes and calls back; each unit's liaison
    signs, arrives, feeds back and completes — some late, some returned (退回) or transferred
    (移交). The server must run an accelerated clock at the same pace:
    `YINGJI_ENV=drill YINGJI_CLOCK_RATE=60 yingji serve` with `--speed 60`; the player measures
    the server's pace and warns if it differs. Errors are counted by code, never fatal.
    """
    plan = drill.DrillPlan(
        scenario=scenario,
        speed=speed,
        url=url,
        username=username,
        password=password,
        admin_username=admin_username,
        admin_password=admin_password,
        duration_minutes=duration_minutes,
        seed=seed_value,
        reports_per_day=reports_per_day,
    )
    if scenario not in drill.SCENARIOS:
        err.print(f"[red]unknown_scenario[/red]: choose one of {', '.join(drill.SCENARIOS)}")
        raise typer.Exit(2)
    with Progress(
        TextColumn("drill {task.fields[scenario]}"),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} business min"),
        TextColumn("{task.fields[counts]}"),
        console=err,
    ) as bar:
        task = bar.add_task("drill", total=duration_minutes, scenario=scenario, counts="")

        def progress(minutes: float, summary: drill.DrillSummary) -> None:
            counts = (
                f"reports {summary.reports_sent} · incidents {summary.incidents} · "
                f"orders {summary.orders} · errors {sum(summary.errors.values())}"
            )
            bar.update(task, completed=minutes, counts=counts)

        summary = asyncio.run(drill.run_drill(plan, progress=progress))
    _print_drill_summary(summary)
    if summary.incidents == 0 and summary.errors:
        raise typer.Exit(1)


def _print_drill_summary(summary: drill.DrillSummary) -> None:
    table = Table(title="drill summary 演练小结")
    table.add_column("what")
    table.add_column("count", justify="right")
    rows = [
        ("reports sent 接警", summary.reports_sent),
        ("… joined an incident (duplicates)", summary.reports_joined),
        ("incidents 事件", summary.incidents),
        ("orders 派单", summary.orders),
        *((f"stage {name}", n) for name, n in sorted(summary.stages.items())),
        *((f"late {name} 超时", n) for name, n in sorted(summary.late.items())),
        ("returned 退回", summary.returned),
        ("transferred 移交", summary.transferred),
        ("incidents closed 办结", summary.closed),
        ("callbacks 回访", summary.callbacks),
        ("actions after the window", summary.unplayed),
    ]
    for name, count in rows:
        table.add_row(name, str(count))
    console.print(table)
    if summary.server_rate is not None:
        console.print(f"server clock pace: {summary.server_rate:g}x")
    for warning in summary.warnings:
        err.print(f"[yellow]warning[/yellow]: {warning}")
    for where, count in sorted(summary.errors.items()):
        err.print(f"[red]error[/red] {where} × {count}")
