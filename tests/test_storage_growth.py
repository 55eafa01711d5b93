"""Growth rate per camera and the time left until the disk or the retention size limit, from storage
samples (SQLite and PostgreSQL); retention deleting files does not count as negative growth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from thermalstream.db.models import StorageSample
from thermalstream.storage.growth import growth
from thermalstream.storage.retention import RetentionPolicy

T0 = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
GB = 10**9


def _samples(db, rows):
    with db.session() as s:
        s.add_all(StorageSample(timestamp=T0 + timedelta(hours=h), category=cat, camera_id=cam, bytes=b, files=1)
                  for h, cat, cam, b in rows)


def test_growth_per_camera_and_days_left(db):
    rows = []
    for h in range(7):  # camera 1: +1 GB an hour, with retention deleting 3 GB at hour 4; camera 2: +0.5 GB/h
        cam1 = (5 + h - (3 if h >= 4 else 0)) * GB
        cam2 = int((2 + 0.5 * h) * GB)
        rows += [(h, "recordings", 1, cam1), (h, "recordings", 2, cam2), (h, "recordings", None, cam1 + cam2),
                 (h, "disk_free", None, (40 - 1.5 * h) * GB)]
    _samples(db, rows)
    policy = RetentionPolicy(max_total_gb=20, min_free_gb=1)
    g = growth(db, policy, now=T0 + timedelta(hours=6))
    # 5 of its 6 hours grew by 1 GB; the hour retention deleted 3 GB counts as no growth, not as -2 GB
    assert g["cameras"][1] == pytest.approx(20 * GB, rel=1e-6)
    assert g["cameras"][2] == pytest.approx(12 * GB, rel=1e-6)
    assert g["total_per_day"] == pytest.approx(32 * GB, rel=1e-6)
    assert g["days_to_disk_full"] == pytest.approx((31 - 1) / 32, rel=1e-6)  # 31 GB free, 1 GB reserve
    assert g["days_to_size_limit"] == pytest.approx((20 - 13) / 32, rel=1e-6)  # 8 + 5 GB used now
    only1 = growth(db, policy, visible={1}, now=T0 + timedelta(hours=6))
    assert list(only1["cameras"]) == [1] and only1["total_per_day"] == pytest.approx(20 * GB, rel=1e-6)
    # the size limit from camera 1's own 8 GB, not the 13 GB that include the hidden camera 2
    assert only1["days_to_size_limit"] == pytest.approx((20 - 8) / 20, rel=1e-6)
    assert growth(db, RetentionPolicy(), now=T0 + timedelta(hours=6))["days_to_size_limit"] is None


def test_growth_unknown_without_samples(db):
    g = growth(db, RetentionPolicy(max_total_gb=5), now=T0)
    assert g["cameras"] == {} and g["days_to_disk_full"] is None and g["days_to_size_limit"] is None
