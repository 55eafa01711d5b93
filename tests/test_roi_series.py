"""ROI series in the database on SQLite and PostgreSQL: batched writes, per-minute aggregates that
outlive the raw samples, retention, queries at each resolution and ts.roi_series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

import thermalstream as ts
from tests.db_fixtures import db, db_url  # noqa: F401 - fixtures
from thermalstream.db import repo
from thermalstream.db.models import RoiMinute, RoiSample
from thermalstream.measure import series, store

T0 = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)


def make_roi(database) -> int:
    with database.session() as s:
        cam = repo.add_camera(s, "lab", "sim://")
        cid = cam.id
    return store.create_roi(database, cid, "box", [[0.1, 0.1], [0.5, 0.5]], "bearing")["id"]


def fill(database, roi: int, minutes: int, start: datetime = T0) -> series.SeriesWriter:
    """One sample a second; in minute m the values are min m, max m + 10, mean m + 5 (+ s/100)."""
    w = series.SeriesWriter(database)
    for m in range(minutes):
        for sec in range(60):
            t = (start + timedelta(minutes=m, seconds=sec)).timestamp()
            w.add(roi, t, m - sec / 100, m + 10 + sec / 100, m + 5, 0.5, "°C")
    return w


def test_batches_aggregates_and_retention(db):  # noqa: F811
    roi = make_roi(db)
    w = fill(db, roi, 3)
    assert w.flush() == 180 and w.batches == 1 and w.pending() == 0
    # minute 2 is not finished at 12:02:30: only minutes 0 and 1 are folded
    assert series.aggregate(db, now=T0 + timedelta(minutes=2, seconds=30)) == 2
    assert series.aggregate(db, now=T0 + timedelta(minutes=2, seconds=30)) == 0  # nothing twice
    assert series.aggregate(db, now=T0 + timedelta(minutes=5)) == 1
    minutes = series.query(db, roi, resolution="minute")
    assert [m["samples"] for m in minutes] == [60, 60, 60]
    assert [(m["min"], m["max"], m["mean"]) for m in minutes] == [
        (pytest.approx(m - 0.59), pytest.approx(m + 10.59), pytest.approx(m + 5)) for m in range(3)]
    assert minutes[0]["t"] == T0.isoformat()
    # retention: raw older than 1 day goes, the minutes stay (until their own retention)
    raw_gone, min_gone = series.prune(db, raw_days=1, minute_days=30, now=T0 + timedelta(days=2))
    assert (raw_gone, min_gone) == (180, 0)
    auto = series.query(db, roi)
    assert len(auto) == 3 and {p["resolution"] for p in auto} == {"minute"}
    assert series.prune(db, raw_days=1, minute_days=30, now=T0 + timedelta(days=31)) == (0, 3)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(RoiMinute)) == 0


def test_auto_uses_raw_where_left_and_minutes_before(db):  # noqa: F811
    roi = make_roi(db)
    fill(db, roi, 4).flush()
    series.aggregate(db, now=T0 + timedelta(minutes=10))
    with db.session() as s:  # raw rows of the first two minutes aged out
        s.execute(RoiSample.__table__.delete().where(RoiSample.timestamp < T0 + timedelta(minutes=2)))
    pts = series.query(db, roi, since=T0.isoformat(), until=(T0 + timedelta(minutes=10)).isoformat())
    assert [p["resolution"] for p in pts[:3]] == ["minute", "minute", "raw"]
    assert len(pts) == 2 + 120
    raw = series.query(db, roi, since=T0 + timedelta(minutes=3), resolution="raw")
    assert len(raw) == 60 and raw[0]["t"] == (T0 + timedelta(minutes=3)).isoformat()
    with pytest.raises(ValueError, match="resolution"):
        series.query(db, roi, resolution="hourly")
    with pytest.raises(ValueError, match="before"):
        series.query(db, roi, since=T0 + timedelta(hours=1), until=T0)


def test_samples_of_a_deleted_roi_are_dropped_not_retried(db):  # noqa: F811
    roi = make_roi(db)
    w = fill(db, roi, 1)
    store.delete_roi(db, roi)
    assert w.flush() == 0 and w.pending() == 0


def test_ts_roi_series_is_a_dataframe(db, db_url):  # noqa: F811
    roi = make_roi(db)
    fill(db, roi, 2).flush()
    df = ts.roi_series(roi, since=T0 + timedelta(seconds=30), until=T0 + timedelta(seconds=89), database_url=db_url)
    assert list(df.columns)[:5] == ["timestamp", "min", "max", "mean", "std"]
    assert len(df) == 60 and str(df["timestamp"].dt.tz) == "UTC"
    assert df["unit"].unique().tolist() == ["°C"]
    assert ts.roi_series("bearing", database_url=db_url).shape[0] == 120
    with pytest.raises(LookupError, match="no ROI"):
        ts.roi_series("nothing", database_url=db_url)


def test_roi_series_export_job_csv_and_parquet(db, tmp_path):  # noqa: F811
    import pandas as pd
    from pydantic import ValidationError

    from thermalstream.datasets.jobs import ExportRequest, ExportService

    roi = make_roi(db)
    cam = store.get_roi(db, roi)["camera_id"]
    fill(db, roi, 2).flush()
    svc = ExportService(db, tmp_path / "rec", tmp_path / "exports")
    try:
        for fmt in ("csv", "parquet"):
            req = ExportRequest(kind="roi_series", format=fmt, roi_ids=[roi], since=T0, resolution="raw")
            job = svc.wait(svc.submit(1, req, {cam}).id)
            assert job.status == "done", job.error
            df = pd.read_csv(job.path) if fmt == "csv" else pd.read_parquet(job.path)
            assert len(df) == 120 and set(df["roi"]) == {"bearing"} and set(df["camera_id"]) == {cam}
            assert list(df.columns)[:4] == ["timestamp", "camera_id", "roi_id", "roi"]
        with pytest.raises(KeyError):  # an ROI of a camera the user may not see: as unknown
            svc.submit(1, ExportRequest(kind="roi_series", format="csv", roi_ids=[roi]), {cam + 1})
        with pytest.raises(ValidationError, match="roi_ids"):
            ExportRequest(kind="roi_series", format="csv")
        with pytest.raises(ValidationError, match="csv or parquet"):
            ExportRequest(kind="roi_series", format="netcdf", roi_ids=[roi])
    finally:
        svc.shutdown()
