"""Benchmark of the case file (一事一档): build it for a large incident, and rebuild it.

``python -m bench.casefile [--reports 200] [--orders 50] [--timeline 5000] [--photos 100]
[--runs 3] [--url URL]``

On the demo county (SQLite by default, copied from a seeded template; ``--url`` a scratch
PostgreSQL database, dropped and created) one archived incident is written with ``--reports``
reports, ``--orders`` orders (two feedbacks each), ``--timeline`` timeline entries and
``--photos`` distinct JPEG photos (640×480, in a scratch file store; half attached to reports,
half to feedbacks), and an evaluation.

Timed: ``archive.flows.build_case_file`` end to end (gather from every domain, read the photos
from the store, render the .docx and the .zip, store both, write the row) — goal ≤ 5 s; then
``--runs`` rebuilds from the data read afresh (gather + render), each compared byte for byte
with the stored files (goal: identical); and in the same run the baseline: the same JSON
sections and photos written to a zip without the .docx. Printed: the times, the sizes, whether
the rebuilds are identical. The figures go to ``var/bench/casefile.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import select

from bench.common import (
    copy_sqlite,
    demo_sqlite_template,
    drop_postgres,
    fresh_postgres,
    prepare_demo_database,
    write_report,
)
from yingji import domains
from yingji.archive import casefile, flows, service
from yingji.archive.models import Evaluation
from yingji.core.db import Database
from yingji.core.files import LocalFileStore
from yingji.core.security import SYSTEM
from yingji.dispatch.models import Feedback, Order
from yingji.incidents.models import Incident, TimelineEntry
from yingji.intake.models import Attachment, Report
from yingji.org.models import LinkageUnit

GOAL_SECONDS = 5.0
START = datetime(2026, 7, 14, 2, 0, tzinfo=UTC)
CODES = (
    ("dispatch.order_feedback", "{unit} 反馈：现场水位仍在上涨，已转移群众{n}人，继续巡查堤坝"),
    ("incidents.noted", "指挥部要求：{unit} 加强夜间巡查，每两小时报告一次水情和人员转移情况"),
    ("incidents.report_added", "新增报警（110）：村民反映{n}号桥附近道路被淹，车辆无法通行"),
    ("dispatch.reminded", "催办 {unit}（反馈）"),
)


def photo(seed: int) -> bytes:
    """A 640×480 JPEG of noise (about the size of a phone photo scaled for the web)."""
    rng = random.Random(seed)
    pixels = bytes(rng.getrandbits(8) for _ in range(160 * 120 * 3))
    image = Image.frombytes("RGB", (160, 120), pixels).resize((640, 480))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


async def seed_incident(
    db: Database, store: LocalFileStore, *, reports: int, orders: int, timeline: int, photos: int
) -> tuple[uuid.UUID, int]:
    """The incident and everything it holds; (its id, the photos' bytes in total)."""
    shas: list[tuple[str, int]] = []
    for i in range(photos):
        body = photo(i)
        shas.append((await store.put(body), len(body)))
    async with db.unit_of_work() as session:
        units = list(
            (await session.scalars(select(LinkageUnit).order_by(LinkageUnit.code).limit(20))).all()
        )
        town = units[0]
        incident = Incident(
            id=uuid.uuid4(),
            number="YJ-20260714-0001",
            title="庆元县城区及沿江乡镇暴雨洪涝",
            category_code="natural.flood",
            level="III",
            state="archived",
            division_adcode=town.division_adcode,
            division_path=town.division_path,
            lon=119.06,
            lat=27.61,
            location_source="manual",
            address="松源街道沿江路",
            first_reported_at=START,
            last_reported_at=START + timedelta(hours=30),
            report_count=reports,
            dead=0,
            injured=3,
            missing=1,
            trapped=12,
            verified_at=START + timedelta(minutes=6),
            closed_at=START + timedelta(days=2),
            first_report_due_at=START + timedelta(hours=1),
            first_report_at=START + timedelta(minutes=48),
            created_at=START,
            updated_at=START + timedelta(days=2),
        )
        session.add(incident)
        await session.flush()
        later: list[Any] = []  # rows that refer to reports and orders: added once those exist
        photo_of_report = shas[: photos // 2]
        photo_of_feedback = shas[photos // 2 :]
        for i in range(reports):
            report = Report(
                id=uuid.uuid4(),
                channel=("hotline_110", "hotline_119", "hotline_120", "grid")[i % 4],
                external_id=f"bench-{i}",
                received_at=START + timedelta(minutes=9 * i),
                reporter_name=f"报警人{i}",
                reporter_phone=f"1380000{i:04d}",
                text=f"沿江路{i % 40}号附近积水齐腰深，有老人被困二楼，请求救援。第{i}次来电。",
                address=f"松源街道沿江路{i % 40}号",
                lon=119.06 + (i % 17) * 0.002,
                lat=27.61 + (i % 13) * 0.002,
                located=True,
                location_source="point",
                division_adcode=town.division_adcode,
                division_path=town.division_path,
                category_code="natural.flood",
                status="joined",
                incident_id=incident.id,
                created_at=START + timedelta(minutes=9 * i),
            )
            session.add(report)
            if i < len(photo_of_report):
                sha, size = photo_of_report[i]
                later.append(
                    Attachment(
                        report_id=report.id,
                        kind="photo",
                        filename=f"现场{i}.jpg",
                        content_type="image/jpeg",
                        size=size,
                        sha256=sha,
                        created_at=report.received_at,
                    )
                )
        for i in range(orders):
            unit = units[i % len(units)]
            issued = START + timedelta(minutes=10 + i)
            order = Order(
                id=uuid.uuid4(),
                incident_id=incident.id,
                division_path=town.division_path,
                unit_id=unit.id,
                responsible_unit_id=unit.id,
                role="lead" if i == 0 else "co",
                stage="completed",
                chosen_by="routing rule",
                issued_at=issued,
                sign_due_at=issued + timedelta(minutes=10),
                arrive_due_at=issued + timedelta(minutes=40),
                complete_due_at=issued + timedelta(hours=24),
                signed_at=issued + timedelta(minutes=4),
                arrived_at=issued + timedelta(minutes=31),
                arrive_lon=119.06,
                arrive_lat=27.61,
                first_feedback_at=issued + timedelta(hours=1),
                last_feedback_at=issued + timedelta(hours=5),
                feedback_count=2,
                completed_at=issued + timedelta(hours=20),
                sign_late=False,
                arrive_late=False,
                complete_late=False,
                updated_at=issued + timedelta(hours=20),
            )
            session.add(order)
            for j in range(2):
                attached = []
                k = 2 * i + j
                if k < len(photo_of_feedback):
                    sha, size = photo_of_feedback[k]
                    attached.append(
                        {
                            "kind": "photo",
                            "sha256": sha,
                            "filename": f"反馈{k}.jpg",
                            "content_type": "image/jpeg",
                            "size": size,
                        }
                    )
                later.append(
                    Feedback(
                        order_id=order.id,
                        at=issued + timedelta(hours=1 + 4 * j),
                        text=f"已转移群众{10 + k}人，设置警戒线，抽排积水继续进行",
                        attachments=attached or None,
                        by_user=f"{unit.name}联络员",
                    )
                )
        await session.flush()
        session.add_all(later)
        for i in range(timeline):
            code, words = CODES[i % len(CODES)]
            unit = units[i % len(units)]
            session.add(
                TimelineEntry(
                    incident_id=incident.id,
                    at=START + timedelta(seconds=30 * i),
                    kind=code.rsplit(".", 1)[-1],
                    actor_name=f"值班员{i % 7}",
                    code=code,
                    params={"unit": unit.name, "n": i},
                    summary=words.format(unit=unit.name, n=i),
                    data=None,
                )
            )
        session.add(
            Evaluation(
                incident_id=incident.id,
                what_happened="7月14日凌晨起持续强降雨，沿江低洼地带受淹，转移群众3200人。",
                went_well="预警叫应到位，转移及时，无人员死亡。",
                to_improve="沿江路排涝泵站启动偏慢，需增加备用电源。",
                measured={"to_verify": 6.0},
                author_id=str(SYSTEM.user_id),
                author_name="带班领导",
                version=1,
                created_at=START + timedelta(days=3),
                updated_at=START + timedelta(days=3),
            )
        )
        incident_id = incident.id
    return incident_id, sum(size for _, size in shas)


async def measure(
    db: Database, store: LocalFileStore, incident_id: uuid.UUID, runs: int
) -> dict[str, Any]:
    started, cpu = time.perf_counter(), time.process_time()
    async with db.unit_of_work() as session:
        row, created = await flows.build_case_file(
            session=session, principal=SYSTEM, incident_id=incident_id, store=store
        )
        docx_sha, zip_sha = row.docx_sha256, row.zip_sha256
        docx_size, zip_size, counts = row.docx_size, row.zip_size, dict(row.counts)
    build_seconds = time.perf_counter() - started
    build_cpu = time.process_time() - cpu
    assert created, "the first build makes version 1"
    stored_docx, stored_zip = await store.get(docx_sha), await store.get(zip_sha)

    rebuilds: list[dict[str, float]] = []
    identical = True
    data: casefile.CaseData | None = None
    found: dict[str, bytes | None] = {}
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        async with db.unit_of_work(readonly=True) as session:
            incident = await session.get(Incident, incident_id)
            assert incident is not None
            evaluation = await service.get_evaluation(session=session, incident_id=incident_id)
            data = await casefile.gather(session, incident=incident, evaluation=evaluation)
        t1 = time.perf_counter()
        found = await casefile.fetch_attachments(store, data.attachments)
        t2 = time.perf_counter()
        docx = await asyncio.to_thread(casefile.render_docx, data)
        t3 = time.perf_counter()
        packed = await asyncio.to_thread(casefile.render_zip, data, docx=docx, attachments=found)
        t4 = time.perf_counter()
        identical = identical and docx == stored_docx and packed == stored_zip
        rebuilds.append(
            {
                "gather": t1 - t0,
                "photos": t2 - t1,
                "docx": t3 - t2,
                "zip": t4 - t3,
                "total": t4 - t0,
                "cpu": time.process_time() - c0,
            }
        )
    assert data is not None
    baselines = []
    for _ in range(runs):
        t0 = time.perf_counter()
        plain = await asyncio.to_thread(casefile.render_zip, data, docx=None, attachments=found)
        baselines.append(time.perf_counter() - t0)
    return {
        "build_seconds": round(build_seconds, 3),
        "build_cpu_seconds": round(build_cpu, 3),
        "load_average": round(os.getloadavg()[0], 1),
        "docx_bytes": docx_size,
        "zip_bytes": zip_size,
        "counts": counts,
        "rebuild_identical": identical,
        "rebuild_median": {
            k: round(statistics.median(r[k] for r in rebuilds), 3) for k in rebuilds[0]
        },
        "baseline_zip_without_docx_seconds": round(statistics.median(baselines), 3),
        "baseline_zip_bytes": len(plain),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    domains.install()
    scratch = Path(tempfile.mkdtemp(prefix="yingji-bench-casefile-"))
    try:
        if args.url:
            url = await fresh_postgres(args.url)
            await prepare_demo_database(url)
        else:
            url = copy_sqlite(await demo_sqlite_template(), scratch, "casefile.db")
        db = Database(url)
        store = LocalFileStore(scratch / "files")
        try:
            incident_id, photo_bytes = await seed_incident(
                db,
                store,
                reports=args.reports,
                orders=args.orders,
                timeline=args.timeline,
                photos=args.photos,
            )
            figures = await measure(db, store, incident_id, args.runs)
        finally:
            await db.dispose()
        if args.url:
            await drop_postgres(url)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        "database": "postgresql" if args.url else "sqlite",
        "reports": args.reports,
        "orders": args.orders,
        "timeline": args.timeline,
        "photos": args.photos,
        "photo_bytes": photo_bytes,
        "goal_seconds": GOAL_SECONDS,
        **figures,
        "met": figures["build_seconds"] <= GOAL_SECONDS and figures["rebuild_identical"],
    }


def run(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=200)
    parser.add_argument("--orders", type=int, default=50)
    parser.add_argument("--timeline", type=int, default=5000)
    parser.add_argument("--photos", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--url", help="a scratch PostgreSQL database (dropped and created)")
    args = parser.parse_args(argv)
    figures = asyncio.run(main(args))
    path = write_report("casefile", figures)
    r = figures["rebuild_median"]
    print(
        f"case file of {args.reports} reports, {args.orders} orders, {args.timeline} timeline "
        f"entries, {args.photos} photos ({figures['photo_bytes'] / 1e6:.1f} MB) on "
        f"{figures['database']}:\n"
        f"  build (end to end):     {figures['build_seconds']:.2f} s (goal ≤ {GOAL_SECONDS:g} s), "
        f"CPU {figures['build_cpu_seconds']:.2f} s, load average {figures['load_average']}\n"
        f"  sizes:                  .docx {figures['docx_bytes'] / 1e6:.2f} MB, "
        f".zip {figures['zip_bytes'] / 1e6:.2f} MB\n"
        f"  rebuild (median of {args.runs}): {r['total']:.2f} s = gather {r['gather']:.2f} + "
        f"photos {r['photos']:.2f} + docx {r['docx']:.2f} + zip {r['zip']:.2f} "
        f"(CPU {r['cpu']:.2f} s)\n"
        f"  byte-identical on rebuild: {figures['rebuild_identical']}\n"
        f"  baseline (same JSON + photos to a zip, no docx): "
        f"{figures['baseline_zip_without_docx_seconds']:.2f} s, "
        f"{figures['baseline_zip_bytes'] / 1e6:.2f} MB\n"
        f"  goal met: {figures['met']}   → {path}"
    )
    return figures


if __name__ == "__main__":
    sys.exit(0 if run()["met"] else 1)
