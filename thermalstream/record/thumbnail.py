"""Thumbnails of recordings: the first frame of the first segment, as a small JPEG, cached."""

from __future__ import annotations

from pathlib import Path

import av
import cv2


def make_thumbnail(segment: Path, out: Path, width: int = 160) -> Path:
    """Decode the first frame of ``segment`` and write it to ``out`` (JPEG) unless it is already there."""
    if out.is_file() and out.stat().st_mtime >= segment.stat().st_mtime:
        return out
    with av.open(str(segment)) as c:
        frame = next(c.decode(video=0), None)
    if frame is None:
        raise ValueError(f"{segment.name} has no frames")
    img = frame.to_ndarray(format="bgr24")
    h, w = img.shape[:2]
    small = cv2.resize(img, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.jpg")
    cv2.imwrite(str(tmp), small, [cv2.IMWRITE_JPEG_QUALITY, 80])
    tmp.replace(out)
    return out
