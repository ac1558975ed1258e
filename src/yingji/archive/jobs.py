"""Archive event handlers: archiving an incident (归档) builds its case file."""

from __future__ import annotations

import uuid

from yingji.archive import flows
from yingji.core import audit
from yingji.core.db import Database
from yingji.core.events import DomainEvent
from yingji.core.files import LocalFileStore
from yingji.core.security import SYSTEM
from yingji.settings import get_settings


class BuildOnArchive:
    """``incidents.archived`` → the incident's case file, built as the system (a redelivered
    event finds the data unchanged and adds no version)."""

    name = "archive.build_on_archive"
    types = ("incidents.archived",)

    def __init__(self, db: Database) -> None:
        self.db = db

    async def __call__(self, event: DomainEvent) -> None:
        store = LocalFileStore(get_settings().file_store)
        token = audit.current_context.set(
            audit.RequestContext(actor_name="system", actor_display=SYSTEM.display_name)
        )
        try:
            async with self.db.unit_of_work() as session:
                await flows.build_case_file(
                    session=session,
                    principal=SYSTEM,
                    incident_id=uuid.UUID(event.subject_id),
                    store=store,
                )
        finally:
            audit.current_context.reset(token)
