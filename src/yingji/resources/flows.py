"""Use cases of the resource registry: each checks the principal's reach, writes through the
service, and records the change (audit row and event) in the caller's transaction.

A rescue team is its ``rescue_team`` linkage unit, extended (decision 0015): creating a team
creates its unit through org's service (or links an existing one), and the team's name,
division and place are the unit's — a change to them here changes the unit in the same
transaction, and a change to the unit (``PATCH /api/v1/units/{id}``) reaches the row through
``jobs.TeamUnitMirror``, which also gives every new rescue_team unit its row.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import audit
from yingji.core.changes import record_change
from yingji.core.errors import Conflict, PermissionDenied, ValidationFailed
from yingji.core.events import EventScope
from yingji.core.security import Principal
from yingji.org import service as org
from yingji.resources import service
from yingji.resources.models import Resource, ResourceKind, StockBatch, SupplyItem

UNIT_CODE = re.compile(r"[A-Za-z0-9_\-]{1,50}")
UNIT_PHONE = re.compile(r"[0-9+\-() ]{3,40}")
#: why a batch's count was corrected (the console words them)
CORRECTION_REASONS = ("stocktake", "damaged", "expired", "lost", "found", "entry_error")
BATCH_FIELDS = ("warehouse_id", "item_id", "batch_no", "quantity", "reserved", "expires_on")
ITEM_FIELDS = ("code", "name", "category", "unit_of_measure")


def audience_of(resource: Resource) -> EventScope:
    """Who sees a resource's events: its division subtree, its owning unit and a team's unit."""
    units = tuple(dict.fromkeys(str(u) for u in (resource.owner_unit_id, resource.unit_id) if u))
    return EventScope(division_path=resource.division_path, unit_ids=units)


def snapshot(resource: Resource) -> dict[str, Any]:
    return audit.snapshot(resource, service.RESOURCE_FIELDS)


def _require_area(principal: Principal, path: str) -> None:
    if not principal.scope.covers(division_path=path):
        raise PermissionDenied(
            "outside_scope", "that lies outside your jurisdiction", {"division_path": path}
        )


async def _check_reach(
    session: AsyncSession, principal: Principal, values: service.ResourceValues
) -> None:
    """The division lies in the principal's subtree and the owning unit is one it sees."""
    path = await org.path_of_division(session=session, adcode=values.division_adcode)
    if path is None:
        raise ValidationFailed(
            "division_not_found",
            f"no division {values.division_adcode}",
            {"division_adcode": values.division_adcode},
        )
    _require_area(principal, path)
    if values.owner_unit_id is not None:
        unit = await org.get_unit(
            session=session, unit_id=values.owner_unit_id, scope=principal.scope
        )
        if unit is None:
            raise ValidationFailed(
                "unit_not_found",
                f"no unit {values.owner_unit_id}",
                {"owner_unit_id": str(values.owner_unit_id)},
            )


async def _record(
    session: AsyncSession,
    action: str,
    resource: Resource,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    *,
    previous: EventScope | None = None,
) -> None:
    await record_change(
        session,
        action=action,
        subject_type="resource",
        subject_id=resource.id,
        before=before,
        after=after,
        audience=audience_of(resource),
        previous_audience=previous,
    )


# --- the registry --------------------------------------------------------------------------------


async def create_resource(
    *, session: AsyncSession, principal: Principal, values: service.ResourceValues
) -> Resource:
    """A new resource in the principal's jurisdiction; a rescue team with its linkage unit."""
    await _check_reach(session, principal, values)
    if values.kind == ResourceKind.RESCUE_TEAM.value:
        values = await _team_unit(session, principal, values)
    elif values.unit_id is not None:
        raise ValidationFailed(
            "unit_only_for_teams", "only a rescue team links a unit", {"kind": values.kind}
        )
    resource = await service.create_resource(session=session, values=values)
    await _record(session, "resource.created", resource, None, snapshot(resource))
    return resource


async def _team_unit(
    session: AsyncSession, principal: Principal, values: service.ResourceValues
) -> service.ResourceValues:
    """``values`` of a team tied to its unit: an existing rescue_team unit's (linked), or a
    new unit made from them."""
    values = dataclasses.replace(values)
    if values.unit_id is not None:
        unit = await org.get_unit(session=session, unit_id=values.unit_id, scope=principal.scope)
        if unit is None or unit.kind != "rescue_team":
            raise ValidationFailed(
                "not_a_rescue_team",
                "unit_id names no rescue_team unit you see",
                {"unit_id": str(values.unit_id)},
            )
        if await service.get_team_of_unit(session=session, unit_id=unit.id) is not None:
            raise Conflict(
                "team_exists", "that unit already has its team row", {"unit_id": str(unit.id)}
            )
        _require_area(principal, unit.division_path)
        for key, value in service.unit_values(unit).items():
            setattr(values, key, value)
    else:
        unit = await _new_team_unit(session, values)
    if values.owner_unit_id is None:
        values.owner_unit_id = unit.id
    values.unit_id = unit.id
    return values


async def _new_team_unit(session: AsyncSession, values: service.ResourceValues) -> org.LinkageUnit:
    if UNIT_CODE.fullmatch(values.code) is None:
        raise ValidationFailed(
            "field_invalid",
            "a team's code becomes its unit's code: letters, digits, _ and -, at most 50",
            {"field": "code", "problem": "bad_format", "params": {"value": values.code[:50]}},
        )
    phone = values.contact_phone
    unit = await org.create_unit(
        session=session,
        data={
            "code": values.code,
            "name": values.name,
            "kind": "rescue_team",
            "tier": 1,
            "division_adcode": values.division_adcode,
            "parent_code": None,
            "phone": phone if phone and UNIT_PHONE.fullmatch(phone) else None,
            "address": values.address,
            "lon": values.lon,
            "lat": values.lat,
        },
    )
    await record_change(
        session,
        action="org.unit.created",
        subject_type="unit",
        subject_id=unit.id,
        before=None,
        after=audit.snapshot(unit, org.UNIT_FIELDS),
        audience=EventScope(division_path=unit.division_path, unit_ids=(str(unit.id),)),
    )
    return unit


async def update_resource(
    *,
    session: AsyncSession,
    principal: Principal,
    resource_id: uuid.UUID,
    changes: Mapping[str, Any],
    version: int,
) -> Resource:
    """Change a resource the principal sees, if it is still at ``version``. A team's name,
    division and place change its unit too."""
    resource = await service.get_resource_or_raise(
        session=session, resource_id=resource_id, scope=principal.scope
    )
    _require_area(principal, resource.division_path)
    if changes.get("division_adcode"):
        path = await org.path_of_division(session=session, adcode=changes["division_adcode"])
        if path is not None:
            _require_area(principal, path)
    if changes.get("owner_unit_id") is not None:
        owner = await org.get_unit(
            session=session, unit_id=changes["owner_unit_id"], scope=principal.scope
        )
        if owner is None:
            raise ValidationFailed(
                "unit_not_found",
                f"no unit {changes['owner_unit_id']}",
                {"owner_unit_id": str(changes["owner_unit_id"])},
            )
    before, was_in = snapshot(resource), audience_of(resource)
    await service.update_resource(
        session=session, resource=resource, changes=changes, version=version
    )
    if resource.unit_id is not None and set(changes) & set(service.UNIT_MIRRORED):
        await _update_team_unit(session, resource)
    await _record(
        session, "resource.updated", resource, before, snapshot(resource), previous=was_in
    )
    return resource


async def _update_team_unit(session: AsyncSession, team: Resource) -> None:
    """The team's unit takes the team's name, division and place (same transaction)."""
    unit = await org.get_unit(session=session, unit_id=team.unit_id) if team.unit_id else None
    if unit is None:
        return
    wanted = {k: getattr(team, k) for k in service.UNIT_MIRRORED}
    if service.unit_values(unit) == wanted:
        return
    before = audit.snapshot(unit, org.UNIT_FIELDS)
    was_in = EventScope(division_path=unit.division_path, unit_ids=(str(unit.id),))
    await org.update_unit(session=session, unit=unit, data=wanted)
    await record_change(
        session,
        action="org.unit.updated",
        subject_type="unit",
        subject_id=unit.id,
        before=before,
        after=audit.snapshot(unit, org.UNIT_FIELDS),
        audience=EventScope(division_path=unit.division_path, unit_ids=(str(unit.id),)),
        previous_audience=was_in,
    )


async def delete_resource(
    *, session: AsyncSession, principal: Principal, resource_id: uuid.UUID
) -> None:
    """Delete a resource the principal sees. A rescue team's row lives as long as its unit
    (org keeps units, deactivating them): ``team_follows_unit``."""
    resource = await service.get_resource_or_raise(
        session=session, resource_id=resource_id, scope=principal.scope
    )
    _require_area(principal, resource.division_path)
    if resource.unit_id is not None:
        raise Conflict(
            "team_follows_unit",
            "a rescue team lives as long as its unit; change its status instead",
            {"unit_id": str(resource.unit_id)},
        )
    before, audience = snapshot(resource), audience_of(resource)
    await service.delete_resource(session=session, resource=resource)
    await record_change(
        session,
        action="resource.deleted",
        subject_type="resource",
        subject_id=resource_id,
        before=before,
        after=None,
        audience=audience,
    )


# --- a team follows its unit ---------------------------------------------------------------------


async def mirror_team_unit(*, session: AsyncSession, unit_id: uuid.UUID) -> Resource | None:
    """The team row of rescue_team unit ``unit_id`` brought in step with the unit (created
    when it has none). Idempotent; returns the row (None for a unit of another kind, or when
    the unit's code is taken by another team row)."""
    unit = await org.get_unit(session=session, unit_id=unit_id)
    if unit is None:
        return None
    team = await service.get_team_of_unit(session=session, unit_id=unit.id)
    if team is None:
        if unit.kind != "rescue_team":
            return None
        return await _team_row_for(session, unit)
    wanted = service.unit_values(unit)
    changes = {k: v for k, v in wanted.items() if getattr(team, k) != v}
    if not changes:
        return team
    before, was_in = snapshot(team), audience_of(team)
    await service.update_resource(session=session, resource=team, changes=changes, version=None)
    await _record(session, "resource.updated", team, before, snapshot(team), previous=was_in)
    return team


async def _team_row_for(session: AsyncSession, unit: org.LinkageUnit) -> Resource | None:
    kind = ResourceKind.RESCUE_TEAM.value
    if await service.get_resource_by_code(session=session, kind=kind, code=unit.code):
        return None
    team = await service.create_resource(
        session=session,
        values=service.ResourceValues(
            kind=kind,
            code=unit.code,
            owner_unit_id=unit.id,
            unit_id=unit.id,
            contact_phone=unit.phone,
            **service.unit_values(unit),
        ),
    )
    await _record(session, "resource.created", team, None, snapshot(team))
    return team


async def ensure_team_rows(session: AsyncSession) -> None:
    """Reference data: a team row for every rescue_team unit lacking one."""
    for unit in await service.rescue_units_without_team(session=session):
        await _team_row_for(session, unit)


# --- supplies ------------------------------------------------------------------------------------


async def create_supply_item(
    *,
    session: AsyncSession,
    code: str,
    name: str,
    unit_of_measure: str,
    category: str | None,
) -> SupplyItem:
    """An item of the catalogue, which the whole platform shares."""
    item = await service.create_supply_item(
        session=session, code=code, name=name, unit_of_measure=unit_of_measure, category=category
    )
    await record_change(
        session,
        action="resource.supply_item.created",
        subject_type="supply_item",
        subject_id=item.id,
        before=None,
        after=audit.snapshot(item, ITEM_FIELDS),
        audience=EventScope(everywhere=True),
    )
    return item


async def _warehouse(
    session: AsyncSession, principal: Principal, warehouse_id: uuid.UUID
) -> Resource:
    warehouse = await service.get_resource_or_raise(
        session=session, resource_id=warehouse_id, scope=principal.scope
    )
    _require_area(principal, warehouse.division_path)
    service.require_warehouse(warehouse)
    return warehouse


async def _record_stock(
    session: AsyncSession,
    action: str,
    warehouse: Resource,
    batch: StockBatch,
    before: dict[str, Any] | None,
    extra: dict[str, Any] | None = None,
) -> None:
    after = audit.snapshot(batch, BATCH_FIELDS) | (extra or {})
    await record_change(
        session,
        action=action,
        subject_type="stock_batch",
        subject_id=batch.id,
        before=before,
        after=after,
        audience=audience_of(warehouse),
    )


async def receive_batch(
    *,
    session: AsyncSession,
    principal: Principal,
    warehouse_id: uuid.UUID,
    item_id: uuid.UUID,
    batch_no: str,
    quantity: int,
    expires_on: date | None,
    received_on: date | None,
) -> StockBatch:
    """入库 — a batch received into a warehouse of the principal's jurisdiction."""
    warehouse = await _warehouse(session, principal, warehouse_id)
    item = await service.get_supply_item(session=session, item_id=item_id)
    if item is None:
        raise ValidationFailed(
            "item_not_found", f"no supply item {item_id}", {"item_id": str(item_id)}
        )
    batch = await service.receive_batch(
        session=session,
        warehouse=warehouse,
        item=item,
        batch_no=batch_no,
        quantity=quantity,
        expires_on=expires_on,
        received_on=received_on,
    )
    await _record_stock(session, "resource.stock.received", warehouse, batch, None)
    return batch


async def correct_batch(
    *,
    session: AsyncSession,
    principal: Principal,
    warehouse_id: uuid.UUID,
    batch_id: uuid.UUID,
    quantity: int,
    expected_quantity: int,
    reason: str,
    note: str | None,
    expires_on: date | None = None,
    change_expiry: bool = False,
) -> StockBatch:
    """盘点更正 — a batch's count corrected, with a reason, if it still holds what was read."""
    warehouse = await _warehouse(session, principal, warehouse_id)
    batch = await service.get_batch_or_raise(
        session=session, warehouse=warehouse, batch_id=batch_id
    )
    before = audit.snapshot(batch, BATCH_FIELDS)
    await service.correct_batch(
        session=session,
        batch=batch,
        quantity=quantity,
        expected_quantity=expected_quantity,
        expires_on=expires_on,
        change_expiry=change_expiry,
    )
    await _record_stock(
        session,
        "resource.stock.corrected",
        warehouse,
        batch,
        before,
        {"reason": reason, "note": note},
    )
    return batch


async def set_minimums(
    *,
    session: AsyncSession,
    principal: Principal,
    warehouse_id: uuid.UUID,
    minimums: Mapping[uuid.UUID, int],
) -> Resource:
    """The warehouse's minimum stock per item, replaced whole."""
    warehouse = await _warehouse(session, principal, warehouse_id)
    before = await service.set_minimums(session=session, warehouse=warehouse, minimums=minimums)
    await record_change(
        session,
        action="resource.minimums.set",
        subject_type="resource",
        subject_id=warehouse.id,
        before={"minimums": {str(k): v for k, v in sorted(before.items())}},
        after={"minimums": {str(k): v for k, v in sorted(minimums.items())}},
        audience=audience_of(warehouse),
    )
    return warehouse
