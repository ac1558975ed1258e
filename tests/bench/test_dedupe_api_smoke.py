"""The matching benchmark over HTTP runs end to end on SQLite (behaviour only, never speed)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench import dedupe_api


def test_small_typhoon_day_through_the_platform_is_stored_and_measured_consistently() -> None:
    data = asyncio.run(dedupe_api.run(dedupe_api.Plan(reports=150, seed=7, examples=3)))

    config, http, db = data["config"], data["http"], data["database"]
    assert config["reports"] == 150
    assert config["incidents"] + config["duplicates"] == 150
    assert data["gazetteer"]["spots_added"] > 0

    # every report and every duty officer's join was answered 2xx
    assert http["failed"] == 0 and http["refused"] == []
    assert sum(http["statuses"].values()) == 150
    assert all(200 <= int(status) < 300 for status in http["statuses"])
    assert http["officer_joins_refused"] == []

    platform, simulation = data["results"]["platform"], data["results"]["simulation"]
    joins, officer = platform["joins"], http["officer_joins"]
    # the database holds what the receipts said: one incident per report not joined by the
    # matcher, of which the officer's joins left exactly as many cancelled
    assert db["reports"] == 150
    assert db["incidents"] == 150 - joins
    assert db["open_incidents"] == 150 - joins - officer
    assert db["cancelled_incidents"] == officer
    assert db["incident_mismatches"] == 0
    assert db["consistent"] is True

    for row in (platform, simulation):
        assert row["true_duplicates"] == config["duplicates"]
        assert sum(row["outcomes"].values()) == 150
        assert row["outcomes"].get("join", 0) == row["joins"]
        assert 0 <= row["correct_joins"] <= row["joins"]
        for name in ("precision", "recall", "f1", "suggest_rate", "recall_after_duty_officer"):
            assert 0.0 <= row[name] <= 1.0, name
        if row["joins"]:
            assert row["precision"] == round(row["correct_joins"] / row["joins"], 4)
        assert row["recall"] == round(row["correct_joins"] / row["true_duplicates"], 4)
        assert row["suggest_rate"] == round(row["outcomes"].get("suggest", 0) / 150, 4)
        assert row["recall_after_duty_officer"] >= row["recall"]
        wrong = row["joins"] - row["correct_joins"]
        assert sum(n for k, n in row["errors"].items() if not k.startswith("missed")) == wrong
    assert joins > 0  # the platform does join duplicates on this day
    assert platform["suggests_with_right_incident_offered"] == officer

    agreement = data["agreement"]
    assert 0.0 <= agreement["same_incident_agreement"] <= agreement["outcome_agreement"] <= 1.0
    differing = agreement["differing_reports"] / 150
    assert abs(agreement["outcome_agreement"] - (1 - differing)) < 1e-4
    assert len(agreement["examples"]) == min(3, agreement["differing_reports"])
    assert Path(data["path"]).exists()
