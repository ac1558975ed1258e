"""主叫定位: 110/119/120 calls carry the caller's location with its accuracy radius; the report
keeps it, a fine fix places a report that names no place, and matching weighs it by its radius."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.factories import bearer, make_county_with_two_towns, report
from yingji.core.db import Database
from yingji.intake.classify import load_categories
from yingji.intake.matching import CallerFix, CandidateIncident, Matcher, ReportFacts

REPORTS = "/api/v1/intake/reports"
AT = datetime(2026, 8, 12, 6, 0, tzinfo=UTC)


def _fire_report(caller: CallerFix | None, minutes: float = 10) -> ReportFacts:
    return ReportFacts(
        text="着火了，浓烟很大，快来人",
        category_code="accident.fire",
        lon=None,
        lat=None,
        division_adcode=None,
        received_at=AT + timedelta(minutes=minutes),
        caller=caller,
    )


def _fire_incident(callers: list[CallerFix]) -> CandidateIncident:
    return CandidateIncident(
        id="E1",
        category_code="accident.fire",
        lon=None,
        lat=None,
        division_adcode=None,
        first_reported_at=AT,
        last_reported_at=AT,
        texts=["这边房子着火了，烟很大"],
        callers=callers,
    )


def test_a_handset_fix_near_the_incident_callers_joins_and_a_far_one_counts_against() -> None:
    matcher = Matcher(load_categories())
    incident = _fire_incident([CallerFix(119.05, 27.55, 20)])
    near = matcher.decide(_fire_report(CallerFix(119.0505, 27.5502, 15)), [incident])
    far = matcher.decide(_fire_report(CallerFix(119.10, 27.60, 15)), [incident])
    alone = matcher.decide(_fire_report(None), [incident])
    assert near.outcome == "join", near.reason
    assert "±35 m" in near.reason
    # a caller may call from elsewhere: far off costs, but does not rule the incident out
    assert far.outcome != "join" and far.score <= alone.score < near.score
    assert alone.outcome != "join"


def test_two_measured_points_far_apart_stay_out_of_the_window() -> None:
    matcher = Matcher(load_categories())
    incident = _fire_incident([])
    incident.lon, incident.lat = 119.05, 27.55
    report = _fire_report(CallerFix(119.05, 27.55, 10))
    far = ReportFacts(**{**report.__dict__, "lon": 119.10, "lat": 27.60})
    scored = matcher.score(far, incident)
    assert not scored.eligible and scored.reason == "outside the distance window"


def test_a_base_station_fix_counts_less_than_a_handset_fix_at_the_same_distance() -> None:
    matcher = Matcher(load_categories())
    incident = _fire_incident([CallerFix(119.05, 27.55, 20)])
    handset = matcher.score(_fire_report(CallerFix(119.0505, 27.5502, 20)), incident)
    cell = matcher.score(_fire_report(CallerFix(119.0505, 27.5502, 2000)), incident)
    assert handset.score > cell.score
    assert cell.why is not None and cell.why["params"]["accuracy_m"] == 2020


async def test_a_119_call_keeps_its_caller_location_and_a_fine_fix_places_it(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    headers = await bearer(client, "county")
    fix = {"lon": 119.15, "lat": 27.55, "accuracy_m": 40, "source": "handset"}
    sent = await client.post(
        REPORTS, headers=headers, json=report("c-1", "着火了快来", caller_location=fix)
    )
    assert sent.status_code == 201, sent.text
    read = await client.get(f"{REPORTS}/{sent.json()['report_id']}", headers=headers)
    body = read.json()
    assert body["caller_source"] == "handset" and body["caller_accuracy_m"] == 40
    assert (body["caller_lon"], body["caller_lat"]) == (119.15, 27.55)
    assert body["location_source"] == "caller" and body["division_adcode"] == "331126102000"


async def test_a_base_station_fix_is_kept_but_does_not_place_the_report(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    headers = await bearer(client, "county")
    fix = {"lon": 119.15, "lat": 27.55, "accuracy_m": 1500, "source": "base_station"}
    sent = await client.post(
        REPORTS, headers=headers, json=report("c-2", "着火了快来", caller_location=fix)
    )
    assert sent.status_code == 201, sent.text
    body = (await client.get(f"{REPORTS}/{sent.json()['report_id']}", headers=headers)).json()
    assert body["caller_accuracy_m"] == 1500 and body["division_adcode"] is None
    assert body["location_source"] is None


async def test_a_caller_location_is_refused_on_other_channels_and_out_of_bounds(
    client: httpx.AsyncClient, db: Database
) -> None:
    await make_county_with_two_towns(db)
    headers = await bearer(client, "county")
    fix = {"lon": 119.15, "lat": 27.55, "accuracy_m": 40, "source": "handset"}
    grid = {**report("c-3", "着火了快来", caller_location=fix), "channel": "grid"}
    wide = report("c-4", "着火了快来", caller_location={**fix, "accuracy_m": 90_000})
    odd = report("c-5", "着火了快来", caller_location={**fix, "source": "guess"})
    for body in (grid, wide, odd):
        answer = await client.post(REPORTS, headers=headers, json=body)
        assert answer.status_code == 422, answer.text
    listed = await client.get(REPORTS, headers=headers)
    assert listed.json()["total"] == 0
