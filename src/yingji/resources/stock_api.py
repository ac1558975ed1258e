"""HTTP routes of supplies: the item catalogue (shared by the whole platform) and the stock of a
warehouse by batch, with its minimums."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core.security import Permission, Principal
from yingji.core.web import Require, Session
from yingji.resources import flows, schemas, service
from yingji.resources.models import Resource, StockBatch

router = APIRouter(prefix="/api/v1", tags=["supplies"])

Reader = Annotated[Principal, Require(Permission.RESOURCE_READ)]
Writer = Annotated[Principal, Require(Permission.RESOURCE_WRITE)]


@router.get(
    "/supply-items",
    response_model=schemas.SupplyItemPage,
    summary="The supply catalogue (filter by text, category)",
)
async def list_supply_items(
    session: Session,
    _me: Reader,
    q: Annotated[str | None, Query(max_length=100)] = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> schemas.SupplyItemPage:
    rows, total = await service.list_supply_items(
        session=session, q=q, category=category, offset=offset, limit=limit
    )
    return schemas.SupplyItemPage(
        items=[schemas.SupplyItemRead.model_validate(r) for r in rows], total=total
    )


@router.post(
    "/supply-items",
    response_model=schemas.SupplyItemRead,
    status_code=201,
    responses={409: {}},
    summary="Add an item to the catalogue (409 item_exists for a taken code)",
)
async def create_supply_item(
    body: schemas.SupplyItemCreate, session: Session, _me: Writer
) -> schemas.SupplyItemRead:
    item = await flows.create_supply_item(session=session, **body.model_dump())
    return schemas.SupplyItemRead.model_validate(item)


def batch_read(b: StockBatch) -> schemas.StockBatchRead:
    return schemas.StockBatchRead(
        id=b.id,
        item_id=b.item_id,
        batch_no=b.batch_no,
        quantity=b.quantity,
        reserved=b.reserved,
        available=b.quantity - b.reserved,
        expires_on=b.expires_on,
        received_on=b.received_on,
        updated_at=b.updated_at,
    )


async def stock_read(session: AsyncSession, warehouse: Resource) -> schemas.StockRead:
    batches, totals = await service.stock_of(session=session, warehouse=warehouse)
    return schemas.StockRead(
        warehouse_id=warehouse.id,
        batches=[batch_read(b) for b in batches],
        totals=[
            schemas.StockTotalRead(
                item=schemas.SupplyItemRead.model_validate(t.item),
                quantity=t.quantity,
                reserved=t.reserved,
                available=t.available,
                minimum=t.minimum,
                below_minimum=t.below_minimum,
            )
            for t in totals
        ],
    )


@router.get(
    "/resources/{resource_id}/stock",
    response_model=schemas.StockRead,
    responses={404: {}, 422: {}},
    summary="A warehouse's stock: batches (earliest expiry first) and per-item totals",
)
async def get_stock(resource_id: uuid.UUID, session: Session, me: Reader) -> schemas.StockRead:
    warehouse = await service.get_resource_or_raise(
        session=session, resource_id=resource_id, scope=me.scope
    )
    service.require_warehouse(warehouse)
    return await stock_read(session, warehouse)


@router.post(
    "/resources/{resource_id}/stock",
    response_model=schemas.StockBatchRead,
    status_code=201,
    responses={404: {}, 409: {}, 422: {}},
    summary="Receive a batch into a warehouse (入库; 409 batch_exists for a known batch number)",
)
async def receive_batch(
    resource_id: uuid.UUID, body: schemas.BatchReceive, session: Session, me: Writer
) -> schemas.StockBatchRead:
    batch = await flows.receive_batch(
        session=session, principal=me, warehouse_id=resource_id, **body.model_dump()
    )
    return batch_read(batch)


@router.patch(
    "/resources/{resource_id}/stock/{batch_id}",
    response_model=schemas.StockBatchRead,
    responses={404: {}, 409: {}},
    summary="Correct a batch's count with a reason (409 stale_quantity if it moved since read)",
)
async def correct_batch(
    resource_id: uuid.UUID,
    batch_id: uuid.UUID,
    body: schemas.BatchCorrection,
    session: Session,
    me: Writer,
) -> schemas.StockBatchRead:
    batch = await flows.correct_batch(
        session=session,
        principal=me,
        warehouse_id=resource_id,
        batch_id=batch_id,
        quantity=body.quantity,
        expected_quantity=body.expected_quantity,
        reason=body.reason,
        note=body.note,
        expires_on=body.expires_on,
        change_expiry="expires_on" in body.model_fields_set,
    )
    return batch_read(batch)


@router.put(
    "/resources/{resource_id}/minimums",
    response_model=schemas.StockRead,
    responses={404: {}, 422: {}},
    summary="Set a warehouse's minimum stock per item (replaces the whole set)",
)
async def set_minimums(
    resource_id: uuid.UUID, body: schemas.MinimumsSet, session: Session, me: Writer
) -> schemas.StockRead:
    minimums = {m.item_id: m.minimum for m in body.items}
    warehouse = await flows.set_minimums(
        session=session, principal=me, warehouse_id=resource_id, minimums=minimums
    )
    return await stock_read(session, warehouse)
