"""Repairing the segment a crash left open: keep every frame that can be read.

* :func:`repair_radiometric` rewrites an HDF5 file whose writer died (SWMR flag still set) as a
  clean file holding every whole frame, so later readers need no SWMR fallback;
* :func:`rebuild_video` re-encodes the white-hot video of a segment from its HDF5 file when the
  MP4 holds no whole fragment (a crash in the segment's first second).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import h5py
import numpy as np

from thermalstream.palettes import to_grey
from thermalstream.record import radiometric
from thermalstream.record.radiometric import _open_readable
from thermalstream.record.video import SegmentWriter, VideoOptions

log = logging.getLogger(__name__)

_FRAME_SETS = ("raw", "celsius", "timestamp", "seq", "ffc")


def _whole_frames(f: h5py.File) -> int:
    """Frames present in every dataset and readable (a torn last chunk ends the count)."""
    n = min(f[k].shape[0] for k in _FRAME_SETS if k in f)
    big = [k for k in ("raw", "celsius") if k in f]
    while n > 0:
        try:
            for k in big:
                f[k][n - 1]
            break
        except (OSError, ValueError):
            n -= 1
    return n


def repair_radiometric(path: str | os.PathLike) -> int:
    """Whole frames kept in ``path`` (0: unreadable). A file left open by a dead writer is
    rewritten (atomically, through a temporary file) with exactly those frames."""
    p = Path(path)
    try:
        f, partial = _open_readable(p)
    except (OSError, ValueError) as exc:
        log.warning("radiometric file %s is unreadable: %s", p, exc)
        return 0
    tmp = p.with_name(p.name + ".repair")
    try:
        with f:
            n = _whole_frames(f)
            if not partial or n == 0:
                return n
            with h5py.File(tmp, "w", libver=getattr(radiometric, "LIBVER", "latest")) as out:  # as the writer
                out.attrs.update(dict(f.attrs))
                for k in _FRAME_SETS:
                    if k in f:
                        src = f[k]
                        out.create_dataset(k, data=src[:n], maxshape=src.maxshape, chunks=src.chunks,
                                           compression=src.compression, compression_opts=src.compression_opts,
                                           shuffle=src.shuffle)
        os.replace(tmp, p)
        log.info("radiometric file %s repaired: %d whole frames kept", p, n)
        return n
    except (OSError, ValueError) as exc:
        log.warning("cannot repair %s: %s", p, exc)
        tmp.unlink(missing_ok=True)
        return 0


def rebuild_video(h5_path: str | os.PathLike, mp4_path: str | os.PathLike, fps: float = 25.0,
                  options: VideoOptions | None = None) -> int:
    """Write ``mp4_path`` (white-hot, per-frame span) from the frames of a radiometric file;
    returns the frames written."""
    from thermalstream.record.radiometric import read_radiometric

    rad = read_radiometric(h5_path)
    n = len(rad.timestamps)
    if n == 0:
        return 0
    data = rad.data
    h, w = data.shape[1:3]
    tmp = Path(mp4_path).with_name(Path(mp4_path).name + ".rebuild.mp4")
    meta = {"comment": "rebuilt from the radiometric file after a crash"}
    with SegmentWriter(tmp, w, h, fps, options, metadata=meta) as wr:
        for i in range(n):
            wr.write(to_grey(data[i].astype(np.float32)), float(rad.timestamps[i]))
    os.replace(tmp, mp4_path)
    return n


__all__ = ["rebuild_video", "repair_radiometric"]
