"""统一接警: one report from any channel → normalised → joined to an incident or opening one."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from yingji.core import audit, clock, reasons
from yingji.core.changes import record_change
from yingji.core.errors import Conflict, Throttled, ValidationFailed
from yingji.core.events import EventScope
from yingji.core.files import FileStore
from yingji.core.reasons import Reason
from yingji.core.security import Permission, Principal, Scope
from yingji.gis import service as gis
from yingji.incidents import service as incidents
from yingji.incidents.schemas import IncidentState
from yingji.intake import classify, gazetteer, levels, matching, service, textsim
from yingji.intake.casualties import casualties_in
from yingji.intake.models import Attachment, Category, Report
from yingji.intake.schemas import (
    PUBLIC_WEB,
    CallerLocation,
    Candidate,
    CandidateAnswer,
    CandidateRequest,
    CategoryUpdate,
    ReportCreate,
    ReportRead,
    ReportStatus,
)


@dataclass(frozen=True)
class IntakePolicy:
    attachment_max_bytes: int
    public_per_address: int
    public_per_phone: int
    store: FileStore
    # how far before and after the server's now a report's received_at may lie
    backdating: timedelta = timedelta(days=7)
    future: timedelta = timedelta(minutes=5)


@dataclass
class Receipt:
    report: Report
    incident: incidents.Incident | None
    created: bool
    duplicate: bool
    reason: str | None  # in English, for logs and source systems
    suggestions: list[dict[str, Any]] = field(default_factory=list)
    why: reasons.Why | None = None  # the reason as ``{code, params}`` (``core.reasons``)


@dataclass(frozen=True)
class Knowledge:
    """The category table, as the classifier, the level rules and the matcher need it."""

    rules: dict[str, classify.CategoryRule]
    classifier: classify.Classifier
    matcher: matching.Matcher

    def related(self, code: str) -> list[str]:
        """The category and those of the same event family, either side naming the other."""
        rule = self.rules.get(code)
        family = {code, *(rule.related if rule else ())}
        family.update(r.code for r in self.rules.values() if code in r.related)
        return sorted(family)


async def knowledge(session: AsyncSession) -> Knowledge:
    async def build() -> Knowledge:
        table = await service.category_rules(session=session)
        rules = classify.parse_categories({"subtypes": [rule for rule, _ in table]})
        active = {rule["code"] for rule, is_active in table if is_active}
        # the jurisdiction's own place names let the matcher tell two villages apart
        local = [
            entry
            for entry in (await service.gazetteer(session=session)).entries
            if entry.local and (entry.level != "county" or entry.parent_adcode)
        ]
        places = [
            textsim.Place(
                entry.name, entry.adcode, f"{entry.adcode}/{entry.name}", entry.lon, entry.lat
            )
            if entry.level == "place"
            else textsim.Place(entry.name, entry.parent_adcode, entry.adcode)
            for entry in local
        ]
        # a short form that is an ordinary word (新华 of 新华社区) names no place for matching
        common = textsim.COMMON_PLACE_WORDS | gazetteer.ordinary_short_forms(
            entry.name for entry in local
        )
        return Knowledge(
            {r.code: r for r in rules},
            classify.Classifier([r for r in rules if r.code in active]),
            matching.Matcher(
                rules, profiler=textsim.TextProfiler(places, common_place_words=common)
            ),
        )

    return await service.cached(session, service.KNOWLEDGE, build)


# --- normalising ---------------------------------------------------------------------------------


def received_moment(
    claimed: datetime | None, policy: IntakePolicy
) -> tuple[datetime, datetime | None]:
    """When a report was received, and the source's claim if it was moved.

    The source's clock is believed within [now − ``backdating``, now + ``future``] of the
    server's: a call a hotline system forwards late keeps its time. A claim outside is moved
    to the nearer bound (a report from 1970 or 2099 would number its incident by that year and
    open a matching window nobody else is in) and is returned, to be kept beside it."""
    now = clock.now()
    if claimed is None:
        return now, None
    moment = clock.as_utc(claimed)
    bounded = min(max(moment, now - policy.backdating), now + policy.future)
    return bounded, None if bounded == moment else moment


def _classify(know: Knowledge, body: ReportCreate) -> dict[str, Any]:
    if body.category_code:
        if body.category_code not in know.rules:
            raise ValidationFailed(
                "unknown_category",
                f"no category {body.category_code}",
                {"category_code": body.category_code},
            )
        return {
            "category_code": body.category_code,
            "category_source": "given",
            "category_words": None,
        }
    found = know.classifier.classify(body.text)
    if found is None:
        return {"category_code": None, "category_source": None, "category_words": []}
    return {
        "category_code": found.code,
        "category_source": "keywords",
        "category_words": [[word, weight] for word, weight in found.words],
    }


@dataclass(frozen=True)
class Placement:
    """Where a report (or a draft) is: its point, how it was found, its division."""

    lon: float | None
    lat: float | None
    source: str | None
    division_adcode: str | None
    division_path: str | None
    #: where outside the jurisdiction the text says it is (no point then: ``source`` "outside")
    outside: gazetteer.Outside | None = None


#: A caller's location at most this coarse places a report that names no place finer than
#: its county (a handset's fix; a base station's cell is too wide to name a village).
CALLER_PLACES_WITHIN_M = 300.0


def caller_fix(location: CallerLocation | None) -> matching.CallerFix | None:
    """The matcher's view of a call's caller location."""
    if location is None:
        return None
    return matching.CallerFix(location.lon, location.lat, location.accuracy_m)


def stored_caller(report: Report) -> matching.CallerFix | None:
    """The caller location a stored report carries, if any."""
    if report.caller_lon is None or report.caller_lat is None:
        return None
    return matching.CallerFix(report.caller_lon, report.caller_lat, report.caller_accuracy_m or 0)


async def place(
    session: AsyncSession,
    *,
    lon: float | None,
    lat: float | None,
    address: str | None,
    text: str,
    caller: matching.CallerFix | None = None,
) -> Placement:
    """A point → the division containing it; else the address and text → the gazetteer (also
    for the division of a point no boundary holds: a GPS fix just across the county line).
    A report with neither a point nor a name finer than its county is placed at its caller's
    location when that is a fine fix (``CALLER_PLACES_WITHIN_M``; source ``caller``: shown on
    the map, matched as a caller fix with its radius, never as a measured point).

    The gazetteer reads whole words (``gazetteer.Gazetteer.read``): a text that names only a
    place outside the jurisdiction (or only a province or city) gets no point and no division,
    its source is "outside" and ``outside`` says where."""

    async def named() -> gazetteer.Reading:
        words = " ".join(part for part in (address, text) if part)
        return (await service.gazetteer(session=session)).read(words)

    source, adcode, outside = None, None, None
    if lon is not None and lat is not None:
        source = "point"
        adcode = await gis.division_at(session, lon=lon, lat=lat)
        if adcode is None:
            hit = (await named()).hit
            adcode = (
                hit.entry.adcode
                if hit is not None and hit.entry.level in gazetteer.PLACING_LEVELS - {"county"}
                else None
            )
    else:
        reading = await named()
        hit = reading.hit if reading.placed else None
        if hit is not None and hit.entry.lon is not None and hit.entry.lat is not None:
            lon, lat = hit.entry.lon, hit.entry.lat
            source = hit.source if hit.entry.level != "county" else "county"
            adcode = hit.entry.adcode
        elif reading.outside is not None:
            source, outside = "outside", reading.outside
        if (
            caller is not None
            and caller.accuracy_m <= CALLER_PLACES_WITHIN_M
            and source in (None, "county")
        ):
            at = await gis.division_at(session, lon=caller.lon, lat=caller.lat)
            if at is not None:
                lon, lat, source, adcode = caller.lon, caller.lat, "caller", at
    path = await service.division_path_of(session=session, adcode=adcode)
    return Placement(lon, lat, source, adcode if path is not None else None, path, outside)


async def _locate(
    session: AsyncSession, body: ReportCreate, principal: Principal
) -> dict[str, Any]:
    caller = body.caller_location
    where = await place(
        session,
        lon=body.lon,
        lat=body.lat,
        address=body.address,
        text=body.text,
        caller=caller_fix(caller),
    )
    return {
        "caller_lon": caller.lon if caller else None,
        "caller_lat": caller.lat if caller else None,
        "caller_accuracy_m": caller.accuracy_m if caller else None,
        "caller_source": caller.source if caller else None,
        "lon": where.lon,
        "lat": where.lat,
        "located": where.lon is not None,
        "location_source": where.source,
        "division_adcode": where.division_adcode,
        # a report placed nowhere stays with the centre that received it
        "division_path": where.division_path or principal.scope.area_path,
    }


def stated_casualties(body: ReportCreate) -> levels.Casualties:
    """The casualties the sender gave; a report sent without any takes those its text states
    ("有人被困", "3人受伤"; the desk always sends the fields the officer saw)."""
    if "casualties" in body.model_fields_set:
        return levels.Casualties(**body.casualties.model_dump())
    return casualties_in(body.text)


def _level(know: Knowledge, code: str | None, body: ReportCreate) -> dict[str, Any]:
    casualties = stated_casualties(body)
    # counts read from the text, not confirmed by anyone: the level's reason says so
    extracted = "casualties" not in body.model_fields_set and casualties != levels.Casualties()
    suggestion = levels.suggest_level(
        know.rules.get(code) if code else None, casualties, extracted=extracted
    )
    return {
        "suggested_level": suggestion.level,
        "level_reason": suggestion.reason,
        "level_why": suggestion.why,
        **dataclasses.asdict(casualties),
    }


# --- matching ------------------------------------------------------------------------------------


def match_facts(
    *,
    text: str,
    category_code: str | None,
    where: Placement,
    received_at: datetime,
    address: str | None,
    caller: matching.CallerFix | None = None,
) -> matching.ReportFacts:
    """What the matcher reads of a report or a draft.

    Distances are measured from measured points only (GPS, or set by the duty officer): a
    report the gazetteer placed is matched by its division and by the places its text names,
    since a village's centroid may lie kilometres from the incident."""
    measured = incidents.measured(where.source)
    return matching.ReportFacts(
        text=text,
        category_code=category_code,
        lon=where.lon if measured else None,
        lat=where.lat if measured else None,
        division_adcode=where.division_adcode,
        received_at=received_at,
        address=address,
        caller=caller,
    )


def search_path(where: Placement, area_path: str | None) -> str | None:
    """The subtree whose incidents without a measured point a report may be about: the town
    of its division (a report placed in one village may be about an incident placed in the
    next), or ``area_path`` (the receiving centre's area) for a report placed nowhere."""
    if not where.division_adcode or not where.division_path:
        return area_path
    if len(matching.division_key(where.division_adcode)) < 12:
        return where.division_path
    parent = where.division_path.rstrip("/").rsplit("/", 1)[0]
    return f"{parent}/" if parent else where.division_path


async def candidate_pool(
    session: AsyncSession,
    know: Knowledge,
    facts: matching.ReportFacts,
    division_path: str | None,
    *,
    prune: bool = False,
    scope: Scope | None = None,
) -> tuple[list[incidents.CandidateRow], list[matching.CandidateIncident]]:
    """Open incidents of the report's event family inside its window, as the matcher reads
    them: those with a measured point inside the bounding box, and those without one in
    ``division_path`` (see ``search_path``). ``prune`` drops, before their texts are read, the
    ones no text could make a suggestion (``Matcher.beyond_reach``): the decision is the same.
    ``scope``: only the incidents it may read (a draft's, shown to its officer)."""
    distance_m, window = know.matcher.window(facts.category_code)
    lon, lat = facts.lon, facts.lat
    if lon is None and facts.caller is not None:  # the box around the caller, widened by its radius
        lon, lat = facts.caller.lon, facts.caller.lat
        distance_m += facts.caller.accuracy_m
    found = await incidents.candidates(
        session=session,
        categories=know.related(facts.category_code) if facts.category_code else None,
        received_at=facts.received_at,
        window=window,
        lon=lon,
        lat=lat,
        distance_m=distance_m,
        division_path=division_path,
        scope=scope,
    )
    shells = []
    for i in found:
        measured = incidents.measured(i.location_source)
        shells.append(
            matching.CandidateIncident(
                id=str(i.id),
                category_code=i.category_code,
                lon=i.lon if measured else None,
                lat=i.lat if measured else None,
                division_adcode=i.division_adcode,
                first_reported_at=clock.as_utc(i.first_reported_at),
                last_reported_at=clock.as_utc(i.last_reported_at),
                address=i.address,
            )
        )
    if prune:
        pairs = zip(found, shells, strict=True)
        kept = [(i, c) for i, c in pairs if not know.matcher.beyond_reach(facts, c)]
        found, shells = [i for i, _ in kept], [c for _, c in kept]
    texts = await service.texts_of_incidents(session=session, incident_ids=[i.id for i in found])
    for i, shell in zip(found, shells, strict=True):
        shell.texts = texts.get(i.id, [])
        shell.callers = texts.callers.get(i.id, [])
    return list(found), shells


async def _match(session: AsyncSession, know: Knowledge, report: Report) -> matching.MatchDecision:
    placed = report.division_path if report.division_adcode else None
    where = Placement(
        report.lon, report.lat, report.location_source, report.division_adcode, placed
    )
    facts = match_facts(
        text=report.text,
        category_code=report.category_code,
        where=where,
        received_at=clock.as_utc(report.received_at),
        address=report.address,
        caller=stored_caller(report),
    )
    # a report placed nowhere kept the receiving centre's area as its division_path
    _, pool = await candidate_pool(
        session, know, facts, search_path(where, report.division_path), prune=True
    )
    return know.matcher.decide(facts, pool)


def _title(know: Knowledge, report: Report) -> str:
    rule = know.rules.get(report.category_code or "")
    place = report.address or report.division_adcode or ""
    return f"{rule.name_zh if rule else '未分类'} · {place}".strip(" ·")


async def _join_incident(
    session: AsyncSession, incident: incidents.Incident, report: Report, why: reasons.Why | None
) -> None:
    before = audit.snapshot(incident, incidents.INCIDENT_FIELDS)
    incidents.absorb_report(
        incident,
        received_at=clock.as_utc(report.received_at),
        casualties=incidents.casualties_of(report),
    )
    incidents.refine_place(incident, report)
    await session.flush()
    await incidents.trace(
        session=session,
        incident=incident,
        action="incidents.report_added",
        before=before,
        summary=f"接警并入（{report.channel} {report.external_id}）",
        data={"report_id": str(report.id), "reason": report.match_reason},
        params={"channel": report.channel, "external_id": report.external_id, "why": why},
    )


@dataclass
class Assignment:
    """Where a report goes, decided before anything is written: the incident it joins (read
    with a lock) or the one it opens (not yet stored), and the report's match columns."""

    incident: incidents.Incident
    joined: bool
    reason: str
    suggestions: list[dict[str, Any]]
    report_values: dict[str, Any]
    why: reasons.Why | None = None


async def _decide(session: AsyncSession, know: Knowledge, report: Report) -> Assignment:
    """Match a report (stored or not): join an incident, or open one (with suggestions if
    close). Reads only; the joined incident stays locked until the transaction ends."""
    decision = await _match(session, know, report)
    suggestions = [
        {
            "incident_id": s.incident_id,
            "score": round(s.score, 3),
            "distance_m": None if s.distance_m is None else round(s.distance_m, 1),
            "minutes": round(s.minutes, 1),
        }
        for s in decision.suggestions
    ]
    matched = {
        "match_score": decision.score,
        "match_reason": decision.reason[:300],
        "match_why": decision.why,
    }
    if decision.outcome == "join" and decision.incident_id is not None:
        # locked, and read afresh: reports joining one incident at once each add their count
        incident = await incidents.lock_incident(
            session=session, incident_id=uuid.UUID(decision.incident_id)
        )
        if incident is not None and incidents.is_open(incident):
            values = {"incident_id": incident.id, "match_outcome": "joined", **matched}
            return Assignment(incident, True, decision.reason, suggestions, values, decision.why)
    incident = incidents.incident_from_report(report, title=_title(know, report))
    values = {
        "incident_id": incident.id,
        "match_outcome": "suggested" if decision.outcome == "suggest" else "opened",
        "suggestions": suggestions or None,
        **matched,
    }
    return Assignment(incident, False, decision.reason, suggestions, values, decision.why)


async def _carry_out(session: AsyncSession, report: Report, plan: Assignment) -> Receipt:
    """Write what ``_decide`` decided, once the report is stored with ``report_values`` (and
    the incident it opens before it)."""
    if plan.joined:
        await _join_incident(session, plan.incident, report, plan.why)
        return Receipt(report, plan.incident, True, True, plan.reason, plan.suggestions, plan.why)
    await incidents.trace(
        session=session,
        incident=plan.incident,
        action="incidents.opened",
        before=None,
        summary=f"立案（{report.channel} {report.external_id}）",
        data={"report_id": str(report.id)},
        params={"channel": report.channel, "external_id": report.external_id},
    )
    return Receipt(report, plan.incident, True, False, plan.reason, plan.suggestions, plan.why)


async def _settle(session: AsyncSession, know: Knowledge, report: Report) -> Assignment:
    """Decide; store the incident the report opens, then give the report its match columns
    (a stored report must refer to an incident that is stored)."""
    plan = await _decide(session, know, report)
    if not plan.joined:
        await incidents.store_incident(session, plan.incident)
    for name, value in plan.report_values.items():
        setattr(report, name, value)
    return plan


async def assign(session: AsyncSession, know: Knowledge, report: Report) -> Receipt:
    """Match a stored report: join an incident, or open one (with suggestions if close)."""
    receipt = await _carry_out(session, report, await _settle(session, know, report))
    await session.flush()
    return receipt


# --- the flow ------------------------------------------------------------------------------------


async def receive_report(
    *,
    session: AsyncSession,
    principal: Principal,
    body: ReportCreate,
    ip: str | None,
    policy: IntakePolicy,
) -> Receipt:
    """Store one report idempotently, normalise it, and join or open an incident.

    A report sent again is found by its insert (``service.insert_report``) and answered with
    the stored one; a public report is looked up first, so that a retry is never throttled.
    Any other report is matched before its insert, and stored with its incident (``_store``).
    The receipt names only incidents the sender may read (``told``)."""
    receipt = await _receive(session, principal, body, ip, policy)
    return await told(session, principal.scope, receipt)


def _check_attachment_budget(body: ReportCreate, policy: IntakePolicy) -> None:
    """A report's attachments together take at most ``attachment_max_bytes`` (what the report
    routes' body limit is sized for); more go one by one to ``/reports/{id}/attachments``."""
    total = sum(item.size() for item in body.attachments)
    if total > policy.attachment_max_bytes:
        raise ValidationFailed(
            "attachments_too_large",
            f"a report's attachments together take at most "
            f"{policy.attachment_max_bytes // 2**20} MiB; send more with "
            "POST /api/v1/intake/reports/{id}/attachments",
            {"max_bytes": policy.attachment_max_bytes, "bytes": total},
        )


async def _receive(
    session: AsyncSession,
    principal: Principal,
    body: ReportCreate,
    ip: str | None,
    policy: IntakePolicy,
) -> Receipt:
    _check_attachment_budget(body, policy)
    if body.channel == PUBLIC_WEB:
        existing = await _public_report_sent_before(session, body, ip, policy)
        if existing is not None:
            return await _receipt_of_existing(session, existing)
    know = await knowledge(session)
    category = _classify(know, body)
    received_at, claimed = received_moment(body.received_at, policy)
    values: dict[str, Any] = {
        "channel": body.channel,
        "external_id": body.external_id,
        "received_at": received_at,
        "received_at_claimed": claimed,
        "reporter_name": body.reporter_name,
        "reporter_phone": body.reporter_phone,
        "text": body.text,
        "address": body.address,
        **category,
        **await _locate(session, body, principal),
        **_level(know, category["category_code"], body),
        "status": ReportStatus.PENDING_VERIFICATION
        if body.channel == PUBLIC_WEB
        else ReportStatus.ACCEPTED,
        "source_ip": ip,
        "created_by": str(principal.user_id),
    }
    if body.channel != PUBLIC_WEB and values["category_code"] is None and not values["located"]:
        if body.if_unclear == "ask":
            await _refuse_unclear(session, body)
        elif body.if_unclear == "file_only":
            values["match_outcome"] = "filed"
    report = service.new_report(values)
    stored, created, plan = await _store(session, know, report)
    if not created:
        return await _receipt_of_existing(session, stored)
    for item in body.attachments:
        await service.store_attachment(
            session=session,
            store=policy.store,
            report_id=report.id,
            filename=item.filename,
            content_type=item.content_type,
            data=item.data(),
            max_bytes=policy.attachment_max_bytes,
        )
    if plan is None:  # waits for verification, or filed without an incident
        await _announce(session, report)
        waits = report.status == ReportStatus.PENDING_VERIFICATION
        return Receipt(
            report,
            None,
            True,
            False,
            "public report waits for verification" if waits else None,
            [],
            reasons.reason("match.pending_verification") if waits else None,
        )
    receipt = await _carry_out(session, report, plan)
    await _announce(session, report)
    return receipt


async def _refuse_unclear(session: AsyncSession, body: ReportCreate) -> None:
    """A report in no category that names no place may be nonsense: the officer confirms
    before it opens an incident (``if_unclear``). A retry of one already stored is answered."""
    if await service.find_report(
        session=session, channel=body.channel, external_id=body.external_id
    ):
        return
    raise Conflict(
        "report_needs_confirmation",
        "the report names no category and no place: send it again with if_unclear "
        "open_incident or file_only",
        {"missing": ["category", "place"]},
    )


async def _public_report_sent_before(
    session: AsyncSession, body: ReportCreate, ip: str | None, policy: IntakePolicy
) -> Report | None:
    """The stored public report if this one was sent before (a retry is never throttled);
    else None, or ``Throttled`` when the address or the phone is over its hourly limit."""
    existing = await service.find_report(
        session=session, channel=body.channel, external_id=body.external_id
    )
    if existing is not None:
        return existing
    broken = await service.public_quota_left(
        session=session,
        ip=ip,
        phone=body.reporter_phone,
        per_address=policy.public_per_address,
        per_phone=policy.public_per_phone,
    )
    if broken is not None:
        raise Throttled(
            "too_many_reports",
            f"too many public reports from this {broken}",
            {"limit": broken},
            retry_after=3600,
        )
    return None


async def _store(
    session: AsyncSession, know: Knowledge, report: Report
) -> tuple[Report, bool, Assignment | None]:
    """Store a new report (``service.insert_report``): an accepted one matched first, so it is
    stored with its incident in one INSERT; one that waits for verification as it is.

    Returns the stored report, whether it is new, and the assignment to carry out. A retry
    found by the insert removes the incident it was about to open (nothing else was written)."""
    matched = report.status == "accepted" and report.match_outcome != "filed"
    plan = await _settle(session, know, report) if matched else None
    stored, created = await service.insert_report(session=session, report=report)
    if not created and plan is not None and not plan.joined:
        await session.delete(plan.incident)
        await session.flush()
    return stored, created, plan


def _report_snapshot(report: Report) -> dict[str, Any]:
    return audit.snapshot(
        report,
        (
            "channel",
            "external_id",
            "category_code",
            "division_adcode",
            "located",
            "suggested_level",
            "status",
            "incident_id",
        ),
    )


async def _announce(session: AsyncSession, report: Report) -> None:
    """A report received: its audit row, and its event to the screens of its area."""
    snapshot = _report_snapshot(report)
    await record_change(
        session,
        action="intake.report_received",
        subject_type="report",
        subject_id=report.id,
        before=None,
        after=snapshot,
        audience=EventScope(division_path=report.division_path),
        payload=snapshot,
    )


def _incident_ids_of(suggestions: Sequence[dict[str, Any]]) -> list[uuid.UUID]:
    return [uuid.UUID(str(s["incident_id"])) for s in suggestions]


async def readable_incidents(
    session: AsyncSession, scope: Scope, reports: Sequence[Report]
) -> set[uuid.UUID]:
    """The incidents ``reports`` name (joined, opened, suggested) that ``scope`` may read."""
    ids: set[uuid.UUID] = set()
    for report in reports:
        if report.incident_id is not None:
            ids.add(report.incident_id)
        ids.update(_incident_ids_of(report.suggestions or []))
    return await incidents.readable_incident_ids(session=session, ids=ids, scope=scope)


async def as_read(
    session: AsyncSession, scope: Scope, reports: Sequence[Report]
) -> list[ReportRead]:
    """``reports`` as a reader with ``scope`` may read them: an incident it may not read is not
    named (``incident_id`` null, left out of ``suggestions``), as in a receipt."""
    readable = await readable_incidents(session, scope, reports)
    shapes = []
    for report in reports:
        shape = ReportRead.model_validate(report)
        suggestions = shape.suggestions
        if suggestions is not None:
            suggestions = [s for s in suggestions if uuid.UUID(str(s["incident_id"])) in readable]
        incident_id = shape.incident_id if shape.incident_id in readable else None
        shapes.append(
            shape.model_copy(update={"incident_id": incident_id, "suggestions": suggestions})
        )
    return shapes


async def told(session: AsyncSession, scope: Scope, receipt: Receipt) -> Receipt:
    """``receipt`` as a sender with ``scope`` may be told it: an incident it may not read is
    not named (a report joined to one still says it was a duplicate), and is left out of the
    suggestions."""
    named = _incident_ids_of(receipt.suggestions)
    if receipt.incident is not None:
        named.append(receipt.incident.id)
    readable = await incidents.readable_incident_ids(session=session, ids=named, scope=scope)
    incident = receipt.incident
    return dataclasses.replace(
        receipt,
        incident=incident if incident is not None and incident.id in readable else None,
        suggestions=[
            s for s in receipt.suggestions if uuid.UUID(str(s["incident_id"])) in readable
        ],
    )


async def _receipt_of_existing(session: AsyncSession, report: Report) -> Receipt:
    incident = (
        await incidents.find_incident(session=session, incident_id=report.incident_id)
        if report.incident_id
        else None
    )
    return Receipt(
        report,
        incident,
        False,
        report.match_outcome == "joined",
        report.match_reason,
        list(report.suggestions or []),
        report.match_why or reasons.legacy(report.match_reason),
    )


async def accept_public_report(
    *, session: AsyncSession, principal: Principal, report_id: uuid.UUID
) -> Receipt:
    """A duty officer verifies a report from the public; then it is matched like any other.
    Two officers verifying it at once: one wins, the other is told 409 ``report_not_pending``."""
    report = await service.get_report_or_raise(
        session=session, report_id=report_id, scope=principal.scope
    )
    before = _report_snapshot(report)
    await service.change_status(session=session, report=report, to=ReportStatus.ACCEPTED)
    receipt = await assign(session, await knowledge(session), report)
    await _record(session, report, "intake.report_accepted", before)
    return await told(session, principal.scope, receipt)


async def reject_public_report(
    *, session: AsyncSession, principal: Principal, report_id: uuid.UUID, reason: str
) -> Report:
    """A duty officer refuses a report from the public, with the reason (compare-and-set, as
    for accepting it)."""
    report = await service.get_report_or_raise(
        session=session, report_id=report_id, scope=principal.scope
    )
    before = _report_snapshot(report)
    await service.change_status(
        session=session,
        report=report,
        to=ReportStatus.REJECTED,
        values={
            "match_reason": reason[:300],
            "match_why": reasons.reason("match.rejected", text=reason),
        },
    )
    await _record(session, report, "intake.report_rejected", before, reason=reason)
    return report


async def _record(
    session: AsyncSession,
    report: Report,
    action: str,
    before: dict[str, Any],
    *,
    reason: str | None = None,
    previous_path: str | None = None,
) -> None:
    """A change to a report: its audit row and its event, to the screens of its area (and of
    the area it left, ``previous_path``)."""
    after = _report_snapshot(report)
    if reason is not None:
        after["reason"] = reason
    await record_change(
        session,
        action=action,
        subject_type="report",
        subject_id=report.id,
        before=before,
        after=after,
        audience=EventScope(division_path=report.division_path),
        previous_audience=EventScope(division_path=previous_path) if previous_path else None,
    )


@dataclass(frozen=True)
class Upload:
    """A file sent to a report on its own (multipart)."""

    filename: str
    content_type: str
    data: bytes


async def add_attachment(
    *,
    session: AsyncSession,
    principal: Principal,
    report_id: uuid.UUID,
    upload: Upload,
    policy: IntakePolicy,
) -> Attachment:
    """A photo or recording added to a report of ``principal``'s scope, audited and told to
    the screens of the report's area."""
    report = await service.get_report_or_raise(
        session=session, report_id=report_id, scope=principal.scope
    )
    attachment = await service.store_attachment(
        session=session,
        store=policy.store,
        report_id=report.id,
        filename=upload.filename,
        content_type=upload.content_type,
        data=upload.data,
        max_bytes=policy.attachment_max_bytes,
    )
    await record_change(
        session,
        action="intake.attachment_added",
        subject_type="report",
        subject_id=report.id,
        before=None,
        after={"sha256": attachment.sha256, "size": attachment.size},
        audience=EventScope(division_path=report.division_path),
    )
    return attachment


async def locate_report(
    *, session: AsyncSession, principal: Principal, report_id: uuid.UUID, lon: float, lat: float
) -> Report:
    """The duty officer places a report the gazetteer could not."""
    report = await service.get_report_or_raise(
        session=session, report_id=report_id, scope=principal.scope
    )
    before, previous_path = _report_snapshot(report), report.division_path
    adcode = await gis.division_at(session, lon=lon, lat=lat)
    path = await service.division_path_of(session=session, adcode=adcode)
    report.lon, report.lat, report.located, report.location_source = lon, lat, True, "manual"
    report.division_adcode = adcode if path else None
    report.division_path = path or report.division_path
    await session.flush()
    if report.incident_id is not None:
        incident = await incidents.find_incident(session=session, incident_id=report.incident_id)
        if incident is not None:
            incidents.refine_place(incident, report)
            await session.flush()
    await _record(session, report, "intake.report_located", before, previous_path=previous_path)
    return report


async def join_report(
    *, session: AsyncSession, principal: Principal, report_id: uuid.UUID, incident_id: uuid.UUID
) -> Receipt:
    """One click on a suggested duplicate: the report joins that incident instead."""
    report = await service.get_report_or_raise(
        session=session, report_id=report_id, scope=principal.scope
    )
    target = await incidents.get_incident_or_raise(
        session=session, incident_id=incident_id, scope=principal.scope
    )
    if report.incident_id == target.id:
        raise Conflict("already_joined", "the report already belongs to that incident")
    if not incidents.is_open(target):
        raise Conflict("incident_not_open", f"incident {target.number} is {target.state}")
    previous = (
        await incidents.find_incident(session=session, incident_id=report.incident_id)
        if report.incident_id
        else None
    )
    report.incident_id, report.match_outcome = target.id, "joined"
    report.match_reason = f"joined by {principal.username}"
    report.match_why = reasons.reason("match.joined_by", person=principal.display_name)
    await _join_incident(session, target, report, report.match_why)
    if previous is not None:
        remaining = previous.report_count - 1
        incidents.recount(previous, report_count=remaining)
        unverified = (IncidentState.REPORTED, IncidentState.VERIFIED)
        if remaining == 0 and previous.state in unverified:
            before = audit.snapshot(previous, incidents.INCIDENT_FIELDS)
            await incidents.transition(
                session=session,
                incident=previous,
                allowed_from=unverified,
                to=IncidentState.CANCELLED,
                values={
                    "merged_into_id": target.id,
                    "cancel_reason": f"重复：接警并入 {target.number}",
                },
            )
            await incidents.trace(
                session=session,
                incident=previous,
                action="incidents.cancelled",
                before=before,
                summary=f"重复：接警并入 {target.number}",
                data={"into": str(target.id)},
                params={"number": target.number},
                code="incidents.cancelled_by_join",
            )
    return await told(
        session,
        principal.scope,
        Receipt(report, target, False, True, report.match_reason, [], report.match_why),
    )


def check_rules(rules: list[dict[str, Any]]) -> None:
    """An edited category table must still be one the classifier and matcher can use."""
    try:
        classify.parse_categories({"subtypes": rules})
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationFailed("invalid_category_rule", f"the rule is not usable: {exc}") from exc


async def update_category(*, session: AsyncSession, code: str, change: CategoryUpdate) -> Category:
    """Tune a category (keywords, match window, level rules, active). The table is shared by
    the whole platform: the change is audited and goes to everyone who reads incidents, so
    every screen showing the table updates."""
    category = await service.get_category_or_raise(session=session, code=code)
    before = dict(category.rule)
    rule = dict(category.rule)
    if change.keywords is not None:
        rule["keywords"] = change.keywords
    if change.match is not None:
        rule["match"] = change.match.model_dump()
    if change.level_rules is not None:
        rule["level_rules"] = [
            r.model_dump(by_alias=True, exclude_none=True) for r in change.level_rules
        ]
    others = [c.rule for c in await service.list_categories(session=session) if c.code != code]
    check_rules([*others, rule])
    was_active = category.active
    await service.update_category(
        session=session, category=category, rule=rule, active=change.active
    )
    await record_change(
        session,
        action="intake.category_updated",
        subject_type="category",
        subject_id=code,
        before={"rule": before, "active": was_active},
        after={"rule": rule, "active": category.active},
        # a table the whole platform shares: no area
        audience=EventScope(everywhere=True, permission=Permission.INCIDENT_READ),
    )
    return category


# --- an incident's reports -----------------------------------------------------------------------


async def reports_of_incident(
    *, session: AsyncSession, scope: Scope, incident_id: uuid.UUID
) -> tuple[list[ReportRead], int]:
    """The reports of an incident ``scope`` may read (its area, or a unit's order on it)."""
    await incidents.get_incident_or_raise(session=session, incident_id=incident_id, scope=scope)
    rows, total = await service.list_reports(
        session=session, scope=scope, incident_id=incident_id, limit=500
    )
    return await as_read(session, scope, rows), total


async def split_report(
    *, session: AsyncSession, principal: Principal, incident_id: uuid.UUID, report_id: uuid.UUID
) -> incidents.Incident:
    """拆分: a report that is about something else leaves and opens an incident of its own."""
    incident = await incidents.get_incident_or_raise(
        session=session, incident_id=incident_id, scope=principal.scope
    )
    if not incidents.is_open(incident):
        raise Conflict("incident_not_open", f"incident {incident.number} is {incident.state}")
    report = await service.get_report_or_raise(
        session=session, report_id=report_id, scope=principal.scope
    )
    if report.incident_id != incident.id:
        raise ValidationFailed(
            "report_not_in_incident", "that report does not belong to this incident"
        )
    if incident.report_count <= 1:
        raise ValidationFailed("last_report", "an incident keeps at least one report")
    before = audit.snapshot(incident, incidents.INCIDENT_FIELDS)
    created = await incidents.open_from_report(session=session, report=report)
    report.incident_id = created.id
    report.match_outcome = "split"
    incidents.recount(incident, report_count=incident.report_count - 1)
    await session.flush()
    await incidents.trace(
        session=session,
        incident=incident,
        action="incidents.report_split",
        before=before,
        summary=f"拆分一条接警至 {created.number}",
        data={"report_id": str(report.id), "to": str(created.id)},
        params={"number": created.number},
    )
    await incidents.trace(
        session=session,
        incident=created,
        action="incidents.opened",
        before=None,
        summary=f"由 {incident.number} 拆分立案",
        data={"report_id": str(report.id), "from": str(incident.id)},
        params={"number": incident.number},
        code="incidents.opened_by_split",
    )
    return created


# --- the intake desk's draft ---------------------------------------------------------------------


async def draft_candidates(
    *, session: AsyncSession, principal: Principal, draft: CandidateRequest
) -> CandidateAnswer:
    """The open incidents a draft report might be about, among those the officer may read,
    and what submitting it would do. Nothing is stored: the draft is placed, classified and
    scored as ``receive_report`` would."""
    know = await knowledge(session)
    code = draft.category_code
    if code is not None and code not in know.rules:
        raise ValidationFailed("unknown_category", f"no category {code}", {"category_code": code})
    if code is None:
        classified = know.classifier.classify(draft.text)
        code = classified.code if classified else None
    received = clock.as_utc(draft.received_at) if draft.received_at else clock.now()
    caller = caller_fix(draft.caller_location)
    where = await place(
        session,
        lon=draft.lon,
        lat=draft.lat,
        address=draft.address,
        text=draft.text,
        caller=caller,
    )
    facts = match_facts(
        text=draft.text,
        category_code=code,
        where=where,
        received_at=received,
        address=draft.address,
        caller=caller,
    )
    # only the incidents the officer may see are offered (and scored)
    _, pool = await candidate_pool(
        session,
        know,
        facts,
        search_path(where, principal.scope.area_path),
        scope=principal.scope,
    )
    decision = know.matcher.decide(facts, pool)
    scored = [(know.matcher.score(facts, c), c.id) for c in pool]
    ranked = sorted(((s, i) for s, i in scored if s.eligible), key=lambda si: (-si[0].score, si[1]))
    ranked = ranked[: draft.limit]
    shown = await incidents.incidents_by_id(session=session, ids=[uuid.UUID(i) for _, i in ranked])
    offered = [(s, shown[uuid.UUID(i)]) for s, i in ranked if uuid.UUID(i) in shown]
    return CandidateAnswer(
        category_code=code,
        lon=where.lon,
        lat=where.lat,
        division_adcode=where.division_adcode,
        outcome=decision.outcome,
        incident_id=uuid.UUID(decision.incident_id) if decision.incident_id else None,
        reason=decision.reason,
        why=Reason.model_validate(decision.why),
        candidates=[
            Candidate(
                incident_id=i.id,
                number=i.number,
                title=i.title,
                category_code=i.category_code,
                level=i.level,
                state=i.state,
                address=i.address,
                lon=i.lon,
                lat=i.lat,
                first_reported_at=i.first_reported_at,
                last_reported_at=i.last_reported_at,
                report_count=i.report_count,
                score=round(s.score, 3),
                distance_m=None if s.distance_m is None else round(s.distance_m, 1),
                minutes=round(s.minutes, 1),
                text_similarity=round(s.text_similarity, 3),
                suggested=s.score >= know.matcher.suggest_threshold,
                reason=s.reason,
                why=Reason.model_validate(s.why),
            )
            for s, i in offered
        ],
    )
