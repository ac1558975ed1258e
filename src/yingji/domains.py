"""The domains, in order: routes are mounted, reference data ensured and subscribers subscribed
in this order. Add a new domain here (docs/contributing.md); the app, the worker, the table
registry and ``tests/test_domains.py`` read this list."""

from yingji.archive import domain as archive
from yingji.core import domain as declarations
from yingji.core.domain import KERNEL, Domain
from yingji.dispatch import domain as dispatch
from yingji.duty import domain as duty
from yingji.gis import domain as gis
from yingji.incidents import domain as incidents
from yingji.intake import domain as intake
from yingji.notify import domain as notify
from yingji.org import domain as org
from yingji.realtime import domain as realtime
from yingji.resources import domain as resources
from yingji.system import domain as system
from yingji.warning import domain as warning

DOMAINS: tuple[Domain, ...] = (
    org.DOMAIN,
    gis.DOMAIN,
    intake.DOMAIN,
    incidents.DOMAIN,
    dispatch.DOMAIN,
    notify.DOMAIN,
    resources.DOMAIN,
    warning.DOMAIN,
    duty.DOMAIN,
    archive.DOMAIN,
    system.DOMAIN,
    realtime.DOMAIN,
)
#: the kernel's declaration, then every domain's
EVERYTHING: tuple[Domain, ...] = (KERNEL, *DOMAINS)


def install() -> None:
    """Hand every declaration to the kernel (timer handlers, permissions, the reading scope,
    the authenticator): what building an app or a worker does first. Idempotent."""
    declarations.install(EVERYTHING)
