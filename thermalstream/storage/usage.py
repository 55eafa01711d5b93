"""Disk usage of the data directory: per category, per camera, and the disk itself.

Categories are the top-level folders of ``data_dir`` that grow without bound::

    recordings/   cam<camera_id>/...   video segments, radiometric HDF5 (RecordingService layout)
    screenshots/  cam<camera_id>/...   (optional per-camera folders)
    detections/   cam<camera_id>/...   detection crops
    thumbnails/   cam<camera_id>/...

A top-level folder named ``cam<id>`` or just ``<id>`` is counted for that camera id; everything
else in a category is counted in the category total only.
Walking uses ``os.scandir`` without following symbolic links, so a link to elsewhere adds
nothing, and a folder that vanishes mid-walk (cleanup running) is skipped, not an error.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CATEGORIES: tuple[str, ...] = ("recordings", "screenshots", "detections", "thumbnails")


@dataclass
class DirUsage:
    bytes: int = 0
    files: int = 0

    def add(self, other: DirUsage) -> None:
        self.bytes += other.bytes
        self.files += other.files

    def to_dict(self) -> dict[str, int]:
        return {"bytes": self.bytes, "files": self.files}


@dataclass
class CategoryUsage:
    path: str
    bytes: int = 0
    files: int = 0
    by_camera: dict[int, DirUsage] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "bytes": self.bytes, "files": self.files,
            "by_camera": {str(k): v.to_dict() for k, v in sorted(self.by_camera.items())},
        }


def dir_usage(path: str | os.PathLike[str]) -> DirUsage:
    """Bytes (apparent file sizes) and regular files under ``path``; 0 if it does not exist.

    Iterative ``os.scandir`` walk; symbolic links are neither followed nor counted.
    """
    total = DirUsage()
    stack = [os.fspath(path)]
    while stack:
        current = stack.pop()
        try:
            it = os.scandir(current)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        with it:
            for entry in it:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        total.bytes += entry.stat(follow_symlinks=False).st_size
                        total.files += 1
                except (FileNotFoundError, PermissionError):
                    continue
    return total


def camera_id_of(folder_name: str) -> int | None:
    """The camera id a top-level folder belongs to (``cam12`` or ``12``), else None."""
    name = folder_name.removeprefix("cam")
    return int(name) if name.isdigit() and name.isascii() else None


def category_usage(path: str | os.PathLike[str]) -> CategoryUsage:
    """Usage of one category folder, with ``cam<id>`` / ``<id>`` top-level folders counted per camera."""
    result = CategoryUsage(path=os.fspath(path))
    try:
        it = os.scandir(path)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return result
    with it:
        for entry in it:
            try:
                if entry.is_dir(follow_symlinks=False):
                    u = dir_usage(entry.path)
                    cam = camera_id_of(entry.name)
                    if cam is not None:
                        result.by_camera.setdefault(cam, DirUsage()).add(u)
                elif entry.is_file(follow_symlinks=False):
                    u = DirUsage(entry.stat(follow_symlinks=False).st_size, 1)
                else:
                    continue
            except (FileNotFoundError, PermissionError):
                continue
            result.bytes += u.bytes
            result.files += u.files
    return result


def storage_roots(settings_or_data_dir: Any) -> dict[str, Path]:
    """Category -> folder. Takes a ``Settings`` (uses ``recordings_dir``, ``screenshots_dir`` and,
    when they exist, ``detections_dir`` / ``thumbnails_dir``) or a bare data directory."""
    if isinstance(settings_or_data_dir, (str, os.PathLike)):
        data_dir = Path(settings_or_data_dir)
        return {c: data_dir / c for c in CATEGORIES}
    s = settings_or_data_dir
    data_dir = Path(s.data_dir)
    return {c: Path(getattr(s, f"{c}_dir", None) or data_dir / c) for c in CATEGORIES}


@dataclass
class DiskUsage:
    total: int
    used: int
    free: int

    def to_dict(self) -> dict[str, int]:
        return {"total": self.total, "used": self.used, "free": self.free}


def _existing_ancestor(path: str | os.PathLike[str]) -> Path:
    p = Path(path).expanduser().absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def disk_usage(path: str | os.PathLike[str]) -> DiskUsage:
    """Total/used/free bytes of the filesystem holding ``path`` (or its nearest existing parent)."""
    du = shutil.disk_usage(_existing_ancestor(path))
    return DiskUsage(du.total, du.used, du.free)


def free_bytes(path: str | os.PathLike[str]) -> int:
    """Bytes free for an unprivileged writer on the filesystem holding ``path``."""
    return disk_usage(path).free


def has_room(path: str | os.PathLike[str], reserve_bytes: int, needed_bytes: int = 0, *, free_fn=None) -> bool:
    """True when writing ``needed_bytes`` to ``path``'s filesystem still leaves ``reserve_bytes`` free.

    The recorder calls this before starting (refuse with a clear error) and between segments
    (stop cleanly). ``free_fn`` replaces :func:`free_bytes` (tests).
    """
    free = (free_fn or free_bytes)(path)
    return free - max(0, int(needed_bytes)) >= max(0, int(reserve_bytes))


def usage(roots: dict[str, Path] | Any, *, disk_path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """A JSON-able snapshot: each category (bytes, files, by_camera), per-camera totals across
    categories, and the disk of the recordings folder.

    ``roots`` is :func:`storage_roots` output, a ``Settings`` or a data directory.
    """
    if not isinstance(roots, dict):
        roots = storage_roots(roots)
    cats = {name: category_usage(path) for name, path in roots.items()}
    cameras: dict[int, DirUsage] = {}
    for cu in cats.values():
        for cam, u in cu.by_camera.items():
            cameras.setdefault(cam, DirUsage()).add(u)
    disk = disk_usage(disk_path or roots.get("recordings") or next(iter(roots.values())))
    return {
        "categories": {name: cu.to_dict() for name, cu in cats.items()},
        "cameras": {str(cam): u.to_dict() for cam, u in sorted(cameras.items())},
        "total": {"bytes": sum(c.bytes for c in cats.values()), "files": sum(c.files for c in cats.values())},
        "disk": disk.to_dict(),
    }


def visible_usage(snap: dict[str, Any], visible: set[int] | None) -> dict[str, Any]:
    """A :func:`usage` snapshot as a user who sees only the cameras in ``visible`` (None: all) may
    see it: other cameras' folders are left out of the per-camera figures and of every total."""
    if visible is None:
        return snap
    keep = {str(c) for c in visible}

    def hidden(by_camera: dict[str, dict[str, int]], key: str) -> int:
        return sum(v[key] for k, v in by_camera.items() if k not in keep)

    cats = {name: {**c, "bytes": c["bytes"] - hidden(c["by_camera"], "bytes"),
                   "files": c["files"] - hidden(c["by_camera"], "files"),
                   "by_camera": {k: v for k, v in c["by_camera"].items() if k in keep}}
            for name, c in snap["categories"].items()}
    return {**snap, "categories": cats,
            "cameras": {k: v for k, v in snap["cameras"].items() if k in keep},
            "total": {"bytes": sum(c["bytes"] for c in cats.values()), "files": sum(c["files"] for c in cats.values())}}
