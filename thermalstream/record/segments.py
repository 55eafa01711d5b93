"""A recording folder's vocabulary: segment names, Segment/Gap/RecorderResult, the manifest, free space."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MANIFEST = "recording.json"
SEGMENT_RE = re.compile(r"^seg(\d{5,})_(\d{8}T\d{6}\.\d{3})Z\.mp4$")
DEFAULT_RESERVE_BYTES = 256 * 1024 * 1024


class RecorderError(RuntimeError):
    """Recording stopped on an error (the message says why)."""


class DiskFull(RecorderError):
    """Free space fell below the reserve, or the file system said ENOSPC."""


def segment_name(index: int, start: float) -> str:
    """``seg00003_20261124T101530.123Z.mp4``: order and start time (UTC) in the name."""
    dt = datetime.fromtimestamp(start, UTC)
    return f"seg{index:05d}_{dt.strftime('%Y%m%dT%H%M%S')}.{dt.microsecond // 1000:03d}Z.mp4"


def parse_segment_name(name: str) -> tuple[int, float] | None:
    """(index, start epoch) from a segment file name, None for other files."""
    m = SEGMENT_RE.match(name)
    if not m:
        return None
    dt = datetime.strptime(m.group(2), "%Y%m%dT%H%M%S.%f").replace(tzinfo=UTC)
    return int(m.group(1)), dt.timestamp()


def free_bytes(path: str | os.PathLike) -> int:
    """Free bytes for an unprivileged writer on the file system holding ``path``."""
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    return shutil.disk_usage(p).free


def safety_floor(info, radiometric: bool = True) -> int:
    """Free bytes to keep at all times for a camera (1 MB + 8 uncompressed frames): below it the
    recorder stops before HDF5 or the MP4 muxer can meet ENOSPC. 0 when the size is unknown."""
    if info is None or not getattr(info, "width", None) or not getattr(info, "height", None):
        return 0
    px = int(info.width) * int(info.height)
    rad = bool(getattr(info, "radiometric", False)) and radiometric
    per_frame = px * (1 if rad else 3) + (2 * px if rad else 0)
    return 1_000_000 + 8 * per_frame


@dataclass
class Segment:
    """A closed segment. ``start``/``end`` are epoch seconds (end = last frame + one period)."""

    index: int
    path: Path
    start: float
    end: float
    frames: int
    duration_s: float
    size_bytes: int  # video + radiometric file
    radiometric_path: Path | None = None

    def as_dict(self, root: Path | None = None) -> dict[str, Any]:
        d = asdict(self)
        for k in ("path", "radiometric_path"):
            v = getattr(self, k)
            d[k] = None if v is None else (str(v.relative_to(root)) if root else str(v))
        return d


@dataclass
class Gap:
    """No frames between ``start`` and ``end`` (epoch seconds; end None while still open)."""

    start: float
    end: float | None
    reason: str = ""

    @property
    def duration_s(self) -> float | None:
        return None if self.end is None else round(self.end - self.start, 3)


@dataclass
class RecorderResult:
    segments: list[Segment] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    frames: int = 0
    dropped: int = 0
    error: str | None = None
    disk_full: bool = False

    @property
    def size_bytes(self) -> int:
        return sum(s.size_bytes for s in self.segments)

    @property
    def duration_s(self) -> float:
        return round(sum(s.duration_s for s in self.segments), 3)


def looks_full(directory: Path, reserve: int) -> bool:
    """Whether the file system is (nearly) full: below ``reserve`` or 1 MB free."""
    try:
        return free_bytes(directory) < max(reserve, 1_000_000)
    except OSError:
        return False


def remove_file(path: Path) -> None:
    """Delete a file; a missing one is fine, other errors are logged."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("cannot delete %s: %s", path, exc)


def write_manifest(directory: Path, doc: dict[str, Any]) -> bool:
    """Replace ``recording.json`` in ``directory`` atomically; False (logged) when it cannot be written."""
    tmp = directory / (MANIFEST + ".tmp")
    try:
        tmp.write_text(json.dumps(doc, indent=1))
        os.replace(tmp, directory / MANIFEST)
        return True
    except OSError as exc:  # a full disk must not turn a clean stop into a crash
        log.warning("cannot write %s: %s", directory / MANIFEST, exc)
        remove_file(tmp)
        return False


def read_manifest(directory: str | os.PathLike) -> dict[str, Any] | None:
    """A recording folder's ``recording.json``; None when missing or unreadable."""
    try:
        return json.loads((Path(directory) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


__all__ = [
    "DEFAULT_RESERVE_BYTES",
    "MANIFEST",
    "DiskFull",
    "Gap",
    "RecorderError",
    "RecorderResult",
    "Segment",
    "free_bytes",
    "looks_full",
    "parse_segment_name",
    "read_manifest",
    "remove_file",
    "safety_floor",
    "segment_name",
    "write_manifest",
]
