"""Storage: usage per folder and camera, usage over time, retention cleanup, disk-full helpers.

>>> from thermalstream.storage import usage, storage_roots, RetentionPolicy, CleanupJob
>>> usage(storage_roots(settings))                      # JSON-able snapshot
>>> job = CleanupJob(db, settings.recordings_dir, RetentionPolicy(max_age_days=30, min_free_gb=2))
>>> job()                                                # one pass (schedule it every few minutes)

Nothing here deletes a file outside its storage root: see :mod:`thermalstream.storage.paths`.
"""

from __future__ import annotations

from thermalstream.storage.cleanup import CleanupJob, apply_cleanup
from thermalstream.storage.paths import StoragePathError, is_within, safe_file_to_delete, safe_path
from thermalstream.storage.retention import (
    GB,
    CleanupPlan,
    RetentionPolicy,
    SegmentInfo,
    collect_segments,
    plan_cleanup,
)
from thermalstream.storage.samples import list_samples, prune_samples, sample_storage
from thermalstream.storage.usage import (
    CATEGORIES,
    category_usage,
    dir_usage,
    disk_usage,
    free_bytes,
    has_room,
    storage_roots,
    usage,
)

__all__ = [
    "CATEGORIES", "GB", "CleanupJob", "CleanupPlan", "RetentionPolicy", "SegmentInfo", "StoragePathError",
    "apply_cleanup", "category_usage", "collect_segments", "dir_usage", "disk_usage", "free_bytes", "has_room",
    "is_within", "list_samples", "plan_cleanup", "prune_samples", "safe_file_to_delete", "safe_path",
    "sample_storage", "storage_roots", "usage",
]
