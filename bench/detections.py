"""The Detections page's queries over many detection rows, on SQLite and PostgreSQL, against a plain
SELECT of the same rows in the same run (the baseline). Goal: < 200 ms each.

    .venv/bin/python bench/detections.py [--rows 1000000] [--cameras 4] [--hours 24] [--repeat 5]
                                         [--backends sqlite,postgresql] [--pg-url URL]

Rows are spread evenly over the last ``--hours`` on ``--cameras`` cameras. Timed, each the median
of ``--repeat`` runs on a warm database (the page's "last 24 h", all cameras):

- ``timeline``: ``detect.timeline.detection_timeline`` (300 buckets over the whole period: whole minutes
  from ``detection_minutes``, which the triggers of migration 0010 fill as the rows are written)
- ``timeline, min conf. 0.5``: the same with the page's minimum-confidence slider at 0.5
- ``table``: the table's first page as the page loads it (``query_detections``, newest 1000 rows)
- ``count``: the header's total (``count_detections``)
- ``plain SELECT`` (baseline): every row of the period fetched (timestamp, camera, class, confidence)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from thermalstream.db import Database, repo  # noqa: E402
from thermalstream.db.models import Detection as DetectionRow  # noqa: E402
from thermalstream.detect import queries  # noqa: E402
from thermalstream.detect.timeline import detection_timeline  # noqa: E402

PG_URL = os.environ.get("THERMALSTREAM_TEST_PG_URL",
                        "postgresql+psycopg://thermalstream:thermalstream@127.0.0.1:5432/thermalstream_test")
LABELS = ["person", "car", "dog", "cat"]


def fill(db: Database, rows: int, cameras: int, hours: float, now: datetime) -> None:
    with db.session() as s:
        cids = [repo.add_camera(s, f"cam{i}", f"sim://?seed={i}").id for i in range(cameras)]
    step = hours * 3600 / rows
    start, chunk = now - timedelta(hours=hours), 50_000
    for lo in range(0, rows, chunk):
        batch = [{"camera_id": cids[i % cameras], "label": LABELS[i % 4], "confidence": 0.4 + (i % 60) / 100,
                  "timestamp": start + timedelta(seconds=i * step), "x1": 1, "y1": 2, "x2": 30, "y2": 40}
                 for i in range(lo, min(rows, lo + chunk))]
        with db.session() as s:
            s.execute(insert(DetectionRow), batch)
    with db.engine.begin() as conn:
        conn.execute(text("ANALYZE"))


def timed(fn, repeat: int) -> tuple[float, object]:
    fn()  # warm
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), out


def run(name: str, url: str, args) -> None:
    db = Database(url)
    db.upgrade()
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    fill(db, args.rows, args.cameras, args.hours, now)
    print(f"\n{name}: {args.rows:,} rows written in {time.perf_counter() - t0:.1f} s")
    since = now - timedelta(hours=args.hours)

    def plain():
        q = select(DetectionRow.timestamp, DetectionRow.camera_id, DetectionRow.label, DetectionRow.confidence)
        with db.session() as s:
            return s.execute(q.where(DetectionRow.timestamp >= since)).all()

    cases = {
        "timeline (300 buckets)": lambda: detection_timeline(db, since=since, until=now, buckets=300),
        "timeline, min conf. 0.5": lambda: detection_timeline(db, since=since, until=now, min_confidence=0.5),
        "table (newest 1000)": lambda: queries.query_detections(db, since=since, limit=1000),
        "count": lambda: queries.count_detections(db, since=since),
        "plain SELECT (baseline)": plain,
    }
    print(f"{'query':28} {'median ms':>10} {'result':>12}")
    for label, fn in cases.items():
        ms, out = timed(fn, args.repeat)
        size = out if isinstance(out, int) else len(out)
        flag = "" if ms < 200 or "baseline" in label else "  > 200 ms"
        print(f"{label:28} {ms:10.1f} {size:>12,}{flag}")
    db.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--cameras", type=int, default=4)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--pg-url", default=PG_URL)
    args = ap.parse_args()
    backends = args.backends.split(",")
    if "sqlite" in backends:
        with tempfile.TemporaryDirectory() as tmp:
            run("SQLite", f"sqlite:///{tmp}/bench.db", args)
    if "postgresql" in backends:
        base = make_url(args.pg_url)
        admin = create_engine(base, poolclass=NullPool)
        schema = f"ts_bench_{uuid.uuid4().hex[:10]}"
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            run("PostgreSQL", base.update_query_dict({"options": f"-csearch_path={schema}"})
                .render_as_string(hide_password=False), args)
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    main()
