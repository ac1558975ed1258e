"""HTTP routes of 叫应: acknowledgements (the public link, the app), the live board, the
acknowledgements list, call plans, 六问 spot checks and the evidence exports.

Mounted before the workflow's routes (``/warnings/{id}``), so ``/warnings/ack/…`` and
``/warnings/call-plans`` are never read as a warning's id.
"""

from __future__ import annotations

import re
import uuid
from collections import OrderedDict, deque
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from yingji.core import clock, tabular
from yingji.core.changes import record_change
from yingji.core.errors import NotFound, Throttled
from yingji.core.events import EventScope
from yingji.core.files import content_disposition
from yingji.core.security import SYSTEM, Permission, Principal
from yingji.core.web import Require, Session, client_ip, get_settings
from yingji.org import service as org_service
from yingji.warning import calling, evidence
from yingji.warning.models import CallPlan, SpotCheck, WarningLevel

router = APIRouter(prefix="/api/v1/warnings", tags=["warnings · 叫应"])

Reader = Annotated[Principal, Require(Permission.WARNING_READ)]
Manager = Annotated[Principal, Require(Permission.WARNING_MANAGE)]
Checker = Annotated[Principal, Require(Permission.WARNING_CHECK)]
WarningId = Annotated[uuid.UUID, Path()]
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


# --- the public link: throttled when it misses ---------------------------------------------------


class MissLimiter:
    """Unknown ack links per address: at most ``limit`` in ``window`` seconds, then 429. A valid
    link is never throttled (the 500-acks-per-second path); guessing is. In memory, per
    process, bounded to ``max_addresses`` addresses (the oldest forgotten first)."""

    def __init__(self, limit: int = 20, window: float = 60.0, max_addresses: int = 10_000) -> None:
        self.limit = limit
        self.window = window
        self.max_addresses = max_addresses
        self._misses: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, address: str) -> deque[float]:
        now = clock.now().timestamp()
        misses = self._misses.get(address)
        if misses is None:
            return deque()
        while misses and misses[0] <= now - self.window:
            misses.popleft()
        return misses

    def check(self, address: str) -> None:
        misses = self._recent(address)
        if len(misses) >= self.limit:
            retry = max(1, int(misses[0] + self.window - clock.now().timestamp()) + 1)
            raise Throttled(
                "too_many_attempts",
                "too many unknown links from this address; wait and try again",
                {"retry_after": retry},
                retry_after=retry,
            )

    def miss(self, address: str) -> None:
        misses = self._recent(address)
        misses.append(clock.now().timestamp())
        self._misses[address] = misses
        self._misses.move_to_end(address)
        while len(self._misses) > self.max_addresses:
            self._misses.popitem(last=False)


LIMITER = MissLimiter()


def _checked_token(request: Request, token: str) -> str:
    address = client_ip(request, get_settings(request)) or "-"
    LIMITER.check(address)
    if not TOKEN.fullmatch(token):
        LIMITER.miss(address)
        raise NotFound("ack_not_found", "no such acknowledgement link")
    return token


def _missed(request: Request) -> None:
    LIMITER.miss(client_ip(request, get_settings(request)) or "-")


# --- schemas -------------------------------------------------------------------------------------


class AckResult(BaseModel):
    status: Literal["acknowledged", "already_acknowledged"]
    warning_id: uuid.UUID
    recipient_id: uuid.UUID
    acked_at: datetime


class AckWarning(BaseModel):
    """What the phone page shows of a warning (text as written; the page renders it as text)."""

    id: uuid.UUID
    number: str
    state: str
    msg_type: str
    type_code: str | None
    event_text: str | None
    level: str | None
    headline: str
    description: str
    instruction: str
    issuer: str
    area_desc: str
    onset_at: datetime | None
    expires_at: datetime | None
    sent_at: datetime | None


class AckPage(BaseModel):
    warning: AckWarning
    name: str
    must_ack: bool
    acknowledged: bool
    acked_at: datetime | None


class AckRead(BaseModel):
    id: uuid.UUID
    recipient_id: uuid.UUID
    name: str
    via: str
    at: datetime


class AckList(BaseModel):
    items: list[AckRead]
    total: int


class BoardPersonRead(BaseModel):
    recipient_id: uuid.UUID
    name: str
    position: str | None
    reason: str
    call_state: str
    call_step: int
    acked_at: datetime | None
    escalated_from_id: uuid.UUID | None
    overdue: bool


class BoardTownRead(BaseModel):
    town_adcode: str | None
    town_name: str | None
    called: int
    answered: int
    overdue: int
    escalated: int
    exhausted: int
    people: list[BoardPersonRead]


class BoardTotals(BaseModel):
    called: int
    answered: int
    overdue: int
    escalated: int
    exhausted: int


class BoardRead(BaseModel):
    warning_id: uuid.UUID
    state: str
    totals: BoardTotals
    towns: list[BoardTownRead]


#: a plan's steps: positions, channels, wait_minutes (1–1440), repeats (0–10), escalate_to
CallStepsBody = calling.CallSteps


ADCODE = r"^\d{12}$|^\d{6}$"


class CallPlanCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    division_adcode: str | None = Field(default=None, pattern=ADCODE)
    type_code: str | None = Field(default=None, min_length=1, max_length=40)
    level: WarningLevel
    name: str = Field(min_length=1, max_length=200)
    steps: CallStepsBody
    active: bool = True


class CallPlanUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, le=2**31 - 1)
    type_code: str | None = Field(default=None, min_length=1, max_length=40)
    level: WarningLevel | None = None
    name: str | None = Field(default=None, min_length=1, max_length=200)
    steps: CallStepsBody | None = None
    active: bool | None = None


class CallPlanRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    division_adcode: str | None
    type_code: str | None
    level: str
    name: str
    steps: dict[str, Any]
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime


class CallPlanList(BaseModel):
    items: list[CallPlanRead]


class SpotAnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: Literal["q1", "q2", "q3", "q4", "q5", "q6"]
    ok: bool
    note: str = Field(default="", max_length=500)


class SpotCheckCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    village_adcode: str = Field(pattern=r"^\d{12}$")
    person_name: str = Field(min_length=1, max_length=100)
    answers: list[SpotAnswerIn] = Field(min_length=6, max_length=6)


class SpotCheckRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    warning_id: uuid.UUID
    village_adcode: str
    person_name: str
    answers: list[dict[str, Any]]
    passed: bool
    checked_by: uuid.UUID | None
    at: datetime


class SpotCheckList(BaseModel):
    items: list[SpotCheckRead]


# --- acknowledgements ----------------------------------------------------------------------------


@router.post(
    "/ack/{token}",
    response_model=AckResult,
    responses={404: {"description": "ack_not_found"}, 429: {"description": "too_many_attempts"}},
    summary="Acknowledge a warning by the link in the message (public: the token is the secret; "
    "a second acknowledgement answers already_acknowledged)",
)
async def ack_by_link(
    token: Annotated[str, Path(max_length=200)], request: Request, session: Session
) -> AckResult:
    token = _checked_token(request, token)
    try:
        outcome = await calling.acknowledge(session, via="link", token=token)
    except NotFound:
        _missed(request)
        raise
    return AckResult(
        status=outcome.status,
        warning_id=outcome.warning_id,
        recipient_id=outcome.recipient_id,
        acked_at=outcome.acked_at,
    )


@router.get(
    "/ack/{token}",
    response_model=AckPage,
    responses={404: {"description": "ack_not_found"}, 429: {"description": "too_many_attempts"}},
    summary="What the phone page of an acknowledgement link shows (public)",
)
async def ack_page(
    token: Annotated[str, Path(max_length=200)], request: Request, session: Session
) -> AckPage:
    token = _checked_token(request, token)
    try:
        view = await calling.ack_view(session, token=token)
    except NotFound:
        _missed(request)
        raise
    w = view["warning"]
    return AckPage(
        warning=AckWarning(
            id=w.id,
            number=w.number,
            state=w.state,
            msg_type=w.msg_type,
            type_code=w.type_code,
            event_text=w.event_text,
            level=w.level,
            headline=w.headline,
            description=w.description,
            instruction=w.instruction,
            issuer=w.issuer,
            area_desc=w.area_desc,
            onset_at=w.onset_at,
            expires_at=w.expires_at,
            sent_at=w.sent_at,
        ),
        name=view["name"],
        must_ack=view["must_ack"],
        acknowledged=view["acked_at"] is not None,
        acked_at=view["acked_at"],
    )


@router.post(
    "/{warning_id}/ack",
    response_model=AckResult,
    responses={404: {"description": "warning_not_found (you are not on its list)"}},
    summary="Acknowledge a warning in the app (you must be one of its recipients)",
)
async def ack_in_app(warning_id: WarningId, session: Session, me: Reader) -> AckResult:
    recipient_id = await calling.recipient_of_user(
        session, warning_id=warning_id, user_id=me.user_id
    )
    if recipient_id is None:
        raise NotFound("warning_not_found", "no such warning", {"warning_id": str(warning_id)})
    outcome = await calling.acknowledge(
        session, via="app", recipient_id=recipient_id, warning_id=warning_id, user_id=me.user_id
    )
    return AckResult(
        status=outcome.status,
        warning_id=outcome.warning_id,
        recipient_id=outcome.recipient_id,
        acked_at=outcome.acked_at,
    )


@router.get(
    "/{warning_id}/acks",
    response_model=AckList,
    responses={404: {}},
    summary="A warning's acknowledgements, first first",
)
async def list_acks(warning_id: WarningId, session: Session, me: Reader) -> AckList:
    await calling.warning_in_scope(session, warning_id=warning_id, scope=me.scope)
    rows = await calling.acks_of(session, warning_id=warning_id)
    return AckList(
        items=[
            AckRead(id=a.id, recipient_id=a.recipient_id, name=name, via=a.via, at=a.at)
            for a, name in rows
        ],
        total=len(rows),
    )


@router.get(
    "/{warning_id}/board",
    response_model=BoardRead,
    responses={404: {}},
    summary="The 叫应 board: per town who was called, answered, is overdue, escalated; live "
    "over the events warning.acknowledged and warning.call.*",
)
async def get_board(warning_id: WarningId, session: Session, me: Reader) -> BoardRead:
    warning = await calling.warning_in_scope(session, warning_id=warning_id, scope=me.scope)
    towns = await calling.board(session, warning=warning)
    return BoardRead(
        warning_id=warning.id,
        state=warning.state,
        totals=BoardTotals(
            called=sum(t.called for t in towns),
            answered=sum(t.answered for t in towns),
            overdue=sum(t.overdue for t in towns),
            escalated=sum(t.escalated for t in towns),
            exhausted=sum(t.exhausted for t in towns),
        ),
        towns=[
            BoardTownRead(
                town_adcode=t.town_adcode,
                town_name=t.town_name,
                called=t.called,
                answered=t.answered,
                overdue=t.overdue,
                escalated=t.escalated,
                exhausted=t.exhausted,
                people=[BoardPersonRead(**vars(p)) for p in t.people],
            )
            for t in towns
        ],
    )


# --- evidence ------------------------------------------------------------------------------------


def _attachment(body: bytes, media_type: str, name: str) -> Response:
    return Response(
        content=body,
        media_type=media_type,
        headers={
            "Content-Disposition": content_disposition(name, media_type),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/{warning_id}/evidence.docx",
    response_class=Response,
    responses={200: {"content": {DOCX_TYPE: {}}}, 404: {}},
    summary="The warning's 叫应 evidence as a Word document",
)
async def evidence_docx(warning_id: WarningId, session: Session, me: Reader) -> Response:
    warning = await calling.warning_in_scope(session, warning_id=warning_id, scope=me.scope)
    found = await evidence.collect(session, warning=warning)
    return _attachment(evidence.to_docx(found), DOCX_TYPE, evidence.filename(warning, "docx"))


@router.get(
    "/{warning_id}/evidence.xlsx",
    response_class=Response,
    responses={200: {"content": {tabular.XLSX_TYPE: {}}}, 404: {}},
    summary="The warning's 叫应 evidence as a workbook (every delivery, every link of the chain)",
)
async def evidence_xlsx(warning_id: WarningId, session: Session, me: Reader) -> Response:
    warning = await calling.warning_in_scope(session, warning_id=warning_id, scope=me.scope)
    found = await evidence.collect(session, warning=warning)
    return _attachment(
        evidence.to_xlsx(found), tabular.XLSX_TYPE, evidence.filename(warning, "xlsx")
    )


# --- 六问 spot checks ----------------------------------------------------------------------------


@router.post(
    "/{warning_id}/spot-checks",
    response_model=SpotCheckRead,
    status_code=201,
    responses={404: {}, 409: {}, 422: {}},
    summary="Record a 六问 spot check of a village in the warning's area",
)
async def create_spot_check(
    warning_id: WarningId, body: SpotCheckCreate, session: Session, me: Checker
) -> SpotCheck:
    warning = await calling.warning_in_scope(session, warning_id=warning_id, scope=me.scope)
    check = await calling.record_spot_check(
        session,
        warning=warning,
        scope=me.scope,
        village_adcode=body.village_adcode,
        person_name=body.person_name,
        answers=[{"question": a.question, "ok": a.ok, "note": a.note} for a in body.answers],
        checked_by=me.user_id,
    )
    facts = SpotCheckRead.model_validate(check).model_dump(mode="json")
    await record_change(
        session,
        action="warning.spot_check.recorded",
        subject_type="warning",
        subject_id=warning.id,
        before=None,
        after=facts,
        audience=calling.audience(warning),
    )
    return check


@router.get(
    "/{warning_id}/spot-checks",
    response_model=SpotCheckList,
    responses={404: {}},
    summary="A warning's 六问 spot checks",
)
async def list_spot_checks(warning_id: WarningId, session: Session, me: Checker) -> SpotCheckList:
    await calling.warning_in_scope(session, warning_id=warning_id, scope=me.scope)
    checks = await calling.spot_checks_of(session, warning_id=warning_id)
    return SpotCheckList(items=[SpotCheckRead.model_validate(c) for c in checks])


# --- call plans ----------------------------------------------------------------------------------


async def _plan_audience(session: Session, plan: CallPlan) -> EventScope:
    if plan.division_adcode is None:
        return EventScope(everywhere=True, permission=Permission.WARNING_MANAGE.value)
    paths = await org_service.division_paths(
        session=session, adcodes=[plan.division_adcode], scope=SYSTEM.scope
    )
    return EventScope(
        division_path=paths.get(plan.division_adcode),
        permission=Permission.WARNING_MANAGE.value,
    )


@router.get(
    "/call-plans",
    response_model=CallPlanList,
    summary="Call plans (叫应方案) you may see: the defaults and your divisions'",
)
async def list_call_plans(session: Session, me: Manager) -> CallPlanList:
    plans = await calling.list_plans(session, scope=me.scope)
    return CallPlanList(items=[CallPlanRead.model_validate(p) for p in plans])


@router.post(
    "/call-plans",
    response_model=CallPlanRead,
    status_code=201,
    responses={403: {}, 404: {}, 409: {"description": "call_plan_exists"}, 422: {}},
    summary="Add a call plan for a division (or every division), a type (or every type), a level",
)
async def create_call_plan(body: CallPlanCreate, session: Session, me: Manager) -> CallPlan:
    steps = body.steps
    plan = await calling.create_plan(
        session,
        scope=me.scope,
        division_adcode=body.division_adcode,
        type_code=body.type_code,
        level=body.level.value,
        name=body.name,
        steps=steps,
        active=body.active,
    )
    await record_change(
        session,
        action="warning.call_plan.created",
        subject_type="call_plan",
        subject_id=plan.id,
        before=None,
        after=calling.plan_facts(plan),
        audience=await _plan_audience(session, plan),
    )
    return plan


@router.patch(
    "/call-plans/{plan_id}",
    response_model=CallPlanRead,
    responses={403: {}, 404: {}, 409: {"description": "stale_version | call_plan_exists"}},
    summary="Change a call plan (published warnings keep the copy they froze)",
)
async def update_call_plan(
    plan_id: uuid.UUID, body: CallPlanUpdate, session: Session, me: Manager
) -> CallPlan:
    changes: dict[str, Any] = {}
    for name in body.model_fields_set - {"version"}:
        value = getattr(body, name)
        if name == "steps":
            if value is None:
                continue
            value = calling.CallSteps.model_validate(value.model_dump())
        elif name == "level":
            if value is None:
                continue
            value = value.value
        elif name in {"name", "active"} and value is None:
            continue
        changes[name] = value
    plan, before = await calling.update_plan(
        session, scope=me.scope, plan_id=plan_id, version=body.version, changes=changes
    )
    await record_change(
        session,
        action="warning.call_plan.updated",
        subject_type="call_plan",
        subject_id=plan.id,
        before=before,
        after=calling.plan_facts(plan),
        audience=await _plan_audience(session, plan),
    )
    return plan


@router.delete(
    "/call-plans/{plan_id}",
    status_code=204,
    responses={403: {}, 404: {}},
    summary="Remove a call plan",
)
async def delete_call_plan(plan_id: uuid.UUID, session: Session, me: Manager) -> Response:
    plan = await calling.get_plan(session, plan_id=plan_id, scope=me.scope)
    scope = await _plan_audience(session, plan)
    before = await calling.delete_plan(session, scope=me.scope, plan_id=plan_id)
    await record_change(
        session,
        action="warning.call_plan.deleted",
        subject_type="call_plan",
        subject_id=plan_id,
        before=before,
        after=None,
        audience=scope,
    )
    return Response(status_code=204)
