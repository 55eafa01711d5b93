"""A camera's files on disk, and what becomes of them when the camera is deleted.

Every storage category keeps a camera's files in a top-level folder ``cam<id>`` or ``<id>``
(see :mod:`thermalstream.storage.usage`); event buffers live in ``recordings/.buffer/cam<id>``.
Deleting a camera either deletes those folders or moves them to
``archive/cam<id>_<UTC time>/<category>/``, which no route serves (admins reach it on disk).
Camera ids are never reused, so a later camera never owns them either way.
"""

from __future__ import annotations

import logging
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from thermalstream.storage.paths import StoragePathError, is_within
from thermalstream.storage.usage import camera_id_of

log = logging.getLogger(__name__)
MEDIA_CHOICES = ("archive", "delete")


def camera_media_dirs(roots: dict[str, Path], camera_id: int) -> list[tuple[str, Path]]:
    """(category, folder) for every folder that holds this camera's files, links left out."""
    found: list[tuple[str, Path]] = []
    for category, root in roots.items():
        names = [f"cam{camera_id}", str(camera_id)]
        places = [(category, Path(root) / n) for n in names]
        if category == "recordings":
            places.append(("recordings-buffer", Path(root) / ".buffer" / f"cam{camera_id}"))
        for cat, folder in places:
            if folder.is_dir() and not folder.is_symlink() and is_within(folder, root):
                found.append((cat, folder))
    return found


def _size(folder: Path) -> int:
    total = 0
    for base, _dirs, files in os.walk(folder):
        for f in files:
            try:
                total += (Path(base) / f).lstat().st_size
            except OSError:
                pass
    return total


def remove_camera_media(roots: dict[str, Path], archive_root: Path, camera_id: int, mode: str) -> dict[str, Any]:
    """Delete or archive (``mode``) a deleted camera's folders. Returns what was done:
    ``{"media": mode, "folders": n, "bytes": b, "archive": path or None}``. ValueError for an
    unknown mode; OSError when the file system refuses (what was done so far stays done)."""
    if mode not in MEDIA_CHOICES:
        raise ValueError(f"media must be one of {', '.join(MEDIA_CHOICES)}, got {mode!r}")
    dirs = camera_media_dirs(roots, camera_id)
    size = sum(_size(d) for _, d in dirs)
    dest_root = None
    if mode == "archive" and dirs:
        dest_root = Path(archive_root) / f"cam{camera_id}_{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
        dest_root.mkdir(parents=True, exist_ok=True)
        os.chmod(dest_root, 0o700)
    for category, folder in dirs:
        if mode == "delete":
            shutil.rmtree(folder)
        else:
            target = dest_root / category / folder.name  # type: ignore[operator]
            if not is_within(target, archive_root):
                raise StoragePathError(f"{target} is outside the archive")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(folder), str(target))
    log.info("camera %s: %s %d folder(s), %d bytes", camera_id, mode, len(dirs), size)
    return {"media": mode, "folders": len(dirs), "bytes": size, "archive": str(dest_root) if dest_root else None}


def media_camera_ids(roots: dict[str, Path]) -> set[int]:
    """Ids of every camera that has a folder in some storage category (event buffers included)."""
    ids: set[int] = set()
    for category, root in roots.items():
        places = [Path(root)] + ([Path(root) / ".buffer"] if category == "recordings" else [])
        for place in places:
            try:
                entries = list(place.iterdir())
            except OSError:
                continue
            ids.update(cid for e in entries if e.is_dir() and (cid := camera_id_of(e.name)) is not None)
    return ids


def archive_usage(archive_root: Path) -> dict[str, int]:
    """Bytes, files and folders (one per deleted camera) in the archive, which retention never touches."""
    root = Path(archive_root)
    folders = [p for p in root.iterdir() if p.is_dir()] if root.is_dir() else []
    files = sum(len(fs) for f in folders for _, _, fs in os.walk(f))
    return {"bytes": sum(_size(f) for f in folders), "files": files, "cameras": len(folders)}
