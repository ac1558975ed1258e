"""What a domain brings to the application, declared in one place (its ``domain.py``).

``yingji.domains`` lists the declarations in order; the app, the worker, the table registry
(Alembic, tests) and the import contracts read that list. Nothing registers itself when its
module is imported: :func:`install` hands the declarations to the kernel's registries (timer
handlers, permissions, reading-scope wideners, the authenticator) when an app or a worker is
built, and the builders read the rest (routers, subscribers, reference data) from the list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Protocol

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import audit, bulletin_sections, events, security, timers, web
from yingji.core import on_duty as duty_hook
from yingji.core.db import Database
from yingji.core.events import Bus, DomainEvent
from yingji.core.security import Authenticator, Permission, Role


class Subscriber(Protocol):
    """A durable event subscriber: a name (its cursor), the event types it takes, the handler."""

    @property
    def name(self) -> str: ...

    @property
    def types(self) -> Sequence[str]: ...

    async def __call__(self, event: DomainEvent) -> None: ...


#: Builds a subscriber for a database (a subscriber class whose ``__init__`` takes the database)
SubscriberFactory = Callable[[Database], Subscriber]
#: Shipped reference data added at start if missing (idempotent; runs in one unit of work)
ReferenceData = Callable[[AsyncSession], Awaitable[object]]
#: A cache built before the first request (outside tests; a read-only unit of work)
Warmer = Callable[[AsyncSession], Awaitable[object]]


class BackgroundWorker(Protocol):
    """A long-running loop of a domain (e.g. the delivery sender), run where timers run:
    ``start`` spawns it, ``stop`` ends it (waiting for work in hand); ``kick`` wakes it."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


#: Builds a background worker for a database and the settings (``yingji.settings.Settings``;
#: typed loosely here because the kernel never imports the application's settings)
WorkerFactory = Callable[[Database, object], BackgroundWorker]


@dataclass(frozen=True)
class Domain:
    """One domain's declaration. Every field but ``name`` is optional."""

    name: str
    #: the HTTP routes, in the order they are mounted
    routers: tuple[APIRouter, ...] = ()
    #: the modules that hold its tables (imported here, so the metadata sees them)
    models: tuple[ModuleType, ...] = ()
    #: timer kind → handler; the kind is stored in timer rows, so never rename one
    timer_handlers: Mapping[str, timers.TimerHandler] = field(default_factory=dict)
    #: durable event subscribers (they run where the relay runs)
    subscribers: tuple[SubscriberFactory, ...] = ()
    reference_data: tuple[ReferenceData, ...] = ()
    #: background loops started beside the timer worker (``yingji serve`` unless --no-worker,
    #: and ``yingji worker``)
    workers: tuple[WorkerFactory, ...] = ()
    warmers: tuple[Warmer, ...] = ()
    #: the permissions this domain adds, each with the roles that hold it (an administrator holds
    #: every permission; see ``core.security``)
    permissions: Mapping[Permission, frozenset[Role]] = field(default_factory=dict)
    #: widen the scope of the routes that read an incident (``core.web.IncidentReader``)
    incident_reading: tuple[web.ScopeWidener, ...] = ()
    #: turns a session or bearer token into a principal (one domain gives it)
    authenticator: Authenticator | None = None
    #: answers "who is on duty now" from rosters (one domain gives it; ``core.on_duty``)
    on_duty: duty_hook.OnDutyResolver | None = None
    #: sections this domain adds to the monthly bulletin (``core.bulletin_sections``)
    bulletin_sections: tuple[bulletin_sections.SectionContributor, ...] = ()


def install(domains: Iterable[Domain]) -> None:
    """Hand the declarations to the kernel's registries. Idempotent (tests build many apps);
    two domains declaring the same timer kind or permission is an error."""
    listed = tuple(domains)
    for domain in listed:
        for kind, handler in domain.timer_handlers.items():
            timers.register(kind, handler)
        security.declare_permissions(domain.name, domain.permissions)
        for widener in domain.incident_reading:
            web.widen_incident_reading(widener)
        if domain.authenticator is not None:
            security.set_authenticator(domain.authenticator)
        if domain.on_duty is not None:
            duty_hook.set_resolver(domain.on_duty)
        for contributor in domain.bulletin_sections:
            bulletin_sections.add_contributor(contributor)


def timer_handlers(domains: Iterable[Domain]) -> dict[str, timers.TimerHandler]:
    """Every timer kind the domains handle (a worker built from them has each of these)."""
    found: dict[str, timers.TimerHandler] = {}
    for domain in domains:
        for kind, handler in domain.timer_handlers.items():
            if kind in found and found[kind] is not handler:
                raise ValueError(f"timer kind {kind!r} is declared twice")
            found[kind] = handler
    return found


def subscribe(bus: Bus, db: Database, domains: Iterable[Domain]) -> None:
    """Subscribe the domains' durable event handlers to ``bus``."""
    for domain in domains:
        for factory in domain.subscribers:
            subscriber = factory(db)
            bus.subscribe(subscriber.name, subscriber, types=subscriber.types)


def background_workers(
    db: Database, settings: object, domains: Iterable[Domain]
) -> list[BackgroundWorker]:
    """The domains' background workers, built (not started) for ``db``."""
    return [factory(db, settings) for domain in domains for factory in domain.workers]


async def ensure_reference_data(db: Database, domains: Iterable[Domain]) -> None:
    """The shipped reference data the domains need, added where missing (one transaction)."""
    async with db.unit_of_work() as session:
        for domain in domains:
            for ensure in domain.reference_data:
                await ensure(session)


async def warm(db: Database, domains: Iterable[Domain]) -> None:
    """Build the domains' caches before the first request."""
    async with db.unit_of_work(readonly=True) as session:
        for domain in domains:
            for build in domain.warmers:
                await build(session)


#: The kernel's own part: its tables (audit, outbox, timers), the timer that publishes the audit
#: head, and the permissions of the kernel's mechanisms. Listed first by ``yingji.domains``.
KERNEL = Domain(
    name="core",
    models=(audit, events, timers),
    timer_handlers={audit.ANCHOR_TIMER: audit.publish_on_time},
    permissions={
        Permission.AUDIT_READ: frozenset({Role.COMMANDER, Role.DUTY_LEADER}),
        Permission.EVENTS_READ: frozenset(Role),
        # an administrator only, and only one whose scope is everything (EVERYTHING_ONLY)
        Permission.REFERENCE_WRITE: frozenset(),
        Permission.SYSTEM_ADMIN: frozenset(),
    },
)
