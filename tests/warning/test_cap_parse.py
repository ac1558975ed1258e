"""CAP 1.2 in and out without a database: every real alert and specification example of the shared
CAP folder (others wrote them) is taken or refused with its code, hostile XML is refused before
anything is read from it, and what we write validates against the OASIS schema and reads back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from tests.warning.cap_fixtures import (
    CAP_DIR,
    cap12_files,
    ids,
    needs_material,
    older_files,
    orange_rainstorm,
)
from yingji.core.errors import ValidationFailed
from yingji.warning import cap, catalogue
from yingji.warning.models import WarningType

CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"


def refusal(xml: bytes, **kwargs: int) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as caught:
        cap.parse(xml, **kwargs)
    return caught.value


def text(node: Any, name: str) -> str:
    return (node.findtext(f"{CAP}{name}") or "").strip()


def types() -> list[WarningType]:
    return [
        WarningType(code=t.code, name_zh=t.name_zh, name_en=t.name_en)
        for t in catalogue.shipped_types().values()
    ]


@needs_material
def test_the_shared_folder_holds_what_these_tests_expect() -> None:
    assert len(cap12_files()) == 10 and len(older_files()) == 9, sorted(CAP_DIR.iterdir())


@needs_material
@pytest.mark.parametrize("path", cap12_files(), ids=ids(cap12_files()))
def test_every_cap12_message_is_taken_as_written(path: Path) -> None:
    data = path.read_bytes()
    message = cap.parse(data)
    root = etree.fromstring(data)
    assert message.identifier == text(root, "identifier")
    assert message.sender == text(root, "sender")
    assert message.msg_type == text(root, "msgType")
    assert message.sent.utcoffset() is not None and message.sent_text == text(root, "sent")
    assert len(message.infos) == len(root.findall(f"{CAP}info"))
    for block, node in zip(message.infos, root.findall(f"{CAP}info"), strict=True):
        assert block.event == text(node, "event")
        assert block.severity == text(node, "severity")
        assert len(block.areas) == len(node.findall(f"{CAP}area"))
    values = cap.mapped(message, types())
    info = message.preferred_info()
    if info is not None and info.severity in ("Extreme", "Severe", "Moderate", "Minor"):
        assert (
            values["level"]
            == {
                "Extreme": "red",
                "Severe": "orange",
                "Moderate": "yellow",
                "Minor": "blue",
            }[info.severity]
        )
    else:
        assert values["level"] is None


@needs_material
@pytest.mark.parametrize("path", older_files(), ids=ids(older_files()))
def test_cap_10_and_11_are_refused_with_their_version(path: Path) -> None:
    error = refusal(path.read_bytes())
    assert error.code == "cap_version_unsupported"
    assert error.details == {"version": "1.0" if "v1dot0" in path.name else "1.1"}


@needs_material
def test_a_polygon_becomes_a_multipolygon_in_lon_lat_with_its_bbox() -> None:
    message = cap.parse((CAP_DIR / "v1dot2_appendix_adot2.xml").read_bytes())
    values = cap.mapped(message, types())
    assert values["area"] is not None
    ring = values["area"]["coordinates"][0][0]
    # CAP writes "38.47,-120.14 …" (lat,lon): GeoJSON has lon first
    assert ring[0] == [-120.14, 38.47] and ring[0] == ring[-1] and len(ring) == 5
    assert (values["min_lon"], values["min_lat"], values["max_lon"], values["max_lat"]) == (
        -120.14,
        38.34,
        -119.74,
        38.62,
    )
    assert values["event_text"] == "SEVERE THUNDERSTORM" and values["type_code"] is None


@needs_material
def test_us_fips_and_same_geocodes_are_not_taken_for_division_codes() -> None:
    message = cap.parse((CAP_DIR / "ipaws-5e7e0fc5023f1930efcf3deb.xml").read_bytes())
    info = message.preferred_info()
    assert info is not None and any(area.geocodes for area in info.areas)
    assert cap.division_codes(info) == []


@needs_material
def test_the_references_of_an_update_are_read_in_order() -> None:
    message = cap.parse((CAP_DIR / "google-PAAQ-4-mg5a94.xml").read_bytes())
    assert [r.identifier for r in message.references] == [
        "PAAQ-1-mg5a94",
        "PAAQ-2-mg5a94",
        "PAAQ-3-mg5a94",
    ]
    assert message.references[0].text() == "wcatwc@noaa.gov,PAAQ-1-mg5a94,2013-01-05T09:01:16-00:00"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol3;</identifier></alert>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&secret;</identifier></alert>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE alert SYSTEM "http://127.0.0.1:9/cap.dtd">
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>"""


@pytest.mark.parametrize(
    "xml",
    [
        BILLION_LAUGHS,
        XXE,
        EXTERNAL_DTD,
        # the same, in UTF-16: a byte scan for "<!DOCTYPE" does not see it, the parser does
        XXE.decode().replace('version="1.0"?', 'version="1.0" encoding="UTF-16"?').encode("utf-16"),
    ],
    ids=["billion-laughs", "xxe", "external-dtd", "xxe-utf16"],
)
def test_dtds_and_entities_are_refused_unread(xml: bytes) -> None:
    assert refusal(xml).code == "cap_unsafe"


def test_what_is_not_xml_too_large_or_not_cap_is_refused_with_its_code() -> None:
    assert refusal(b"<alert").code == "cap_malformed"
    assert refusal(b"not xml at all").code == "cap_malformed"
    big = b"<alert>" + b" " * 2048 + b"</alert>"
    assert refusal(big, max_bytes=1024).code == "cap_too_large"
    error = refusal(
        b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>x</identifier></alert>'
    )
    assert error.code == "cap_invalid" and "sender" in str(error.details)
    assert refusal(b"<rss><channel/></rss>").code == "cap_invalid"


def test_a_point_outside_wgs84_is_refused() -> None:
    bad = cap.build(orange_rainstorm()).replace(b"27.5,119.0 ", b"97.5,119.0 ", 1)
    assert bad != cap.build(orange_rainstorm())
    error = refusal(bad)
    assert error.code == "cap_invalid" and error.details == {"message": "97.5,119.0"}


def test_our_message_validates_against_the_oasis_schema() -> None:
    xml = cap.build(orange_rainstorm())
    tree = etree.fromstring(xml)
    assert cap.schema().validate(tree.getroottree())
    # and against the copy in the shared folder, when it is there
    if (CAP_DIR / "cap12.xsd").is_file():
        shared = etree.XMLSchema(etree.parse(str(CAP_DIR / "cap12.xsd")))
        assert shared.validate(tree.getroottree()), shared.error_log
    infos = tree.findall(f"{CAP}info")
    assert [i.findtext(f"{CAP}language") for i in infos] == ["zh-CN", "en-US"]
    assert tree.findtext(f"{CAP}sent") == "2026-07-03T09:30:00+08:00"
    assert infos[0].findtext(f"{CAP}severity") == "Severe"
    assert infos[0].findtext(f"{CAP}expires") == "2026-07-03T21:30:00+08:00"
    codes = [g.findtext(f"{CAP}value") for g in infos[0].iter(f"{CAP}geocode")]
    assert codes == ["331126101000", "331126102000"]


@pytest.mark.parametrize(
    ("level", "severity"),
    [("red", "Extreme"), ("orange", "Severe"), ("yellow", "Moderate"), ("blue", "Minor")],
)
def test_the_colour_is_written_as_cap_severity_and_read_back(level: str, severity: str) -> None:
    message = cap.parse(cap.build(orange_rainstorm(level=level)))
    assert {i.severity for i in message.infos} == {severity}
    assert cap.mapped(message, types())["level"] == level


def test_our_message_reads_back_as_it_was_written() -> None:
    facts = orange_rainstorm(
        msg_type="Update",
        references=(
            "qingyuan@yingji.example,33112600000000_20260703080000_1,2026-07-03T08:00:00+08:00",
        ),
    )
    message = cap.parse(cap.build(facts))
    assert (message.identifier, message.sender, message.sent) == (
        facts.identifier,
        facts.sender,
        facts.sent_at,
    )
    assert message.references[0].identifier == "33112600000000_20260703080000_1"
    values = cap.mapped(message, types())
    assert values["type_code"] == "rainstorm" and values["level"] == "orange"
    assert values["headline"] == facts.headline and values["headline_en"] == facts.headline_en
    assert values["area"] == facts.area
    assert values["area_adcodes"] == list(facts.area_adcodes)
    assert (values["onset_at"], values["expires_at"]) == (facts.onset_at, facts.expires_at)
    assert values["issuer"] == "庆元县气象台" and values["area_desc"] == "甲镇、乙镇"


def test_a_cancel_is_written_as_past_with_an_all_clear() -> None:
    message = cap.parse(cap.build(orange_rainstorm(msg_type="Cancel")))
    assert message.msg_type == "Cancel"
    tree = etree.fromstring(cap.build(orange_rainstorm(msg_type="Cancel")))
    assert {n.text for n in tree.iter(f"{CAP}urgency")} == {"Past"}
    assert {n.text for n in tree.iter(f"{CAP}responseType")} == {"AllClear"}


@pytest.mark.parametrize(
    ("event", "code"),
    [
        ("暴雨", "rainstorm"),
        ("暴雨橙色预警", "rainstorm"),
        ("大风蓝色预警信号", "gale"),
        ("Flood Warning", "flood"),
        ("Typhoon", "typhoon"),
        ("SEVERE THUNDERSTORM", None),
        ("", None),
    ],
)
def test_an_event_is_matched_to_a_type_by_its_name(event: str, code: str | None) -> None:
    assert cap.match_type(event, types()) == code
