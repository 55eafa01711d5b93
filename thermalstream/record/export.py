"""Export: join recorded segments into one browser-playable MP4 by remuxing (no re-encoding)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import av


class ExportError(Exception):
    """Nothing to export, or a segment could not be read."""


def export_mp4(segments: Sequence[Path], out: Path) -> dict:
    """Copy the H.264 packets of ``segments`` (in order) into ``out`` with faststart, shifting
    timestamps so each segment follows the last. Unreadable segments are skipped and listed."""
    if not segments:
        raise ExportError("no recorded segments in that range")
    skipped: list[str] = []
    frames = 0
    offset = 0  # in the output stream's time base
    with av.open(str(out), "w", format="mp4", options={"movflags": "+faststart"}) as dst:
        ostream = None
        for seg in segments:
            try:
                src = av.open(str(seg))
            except (av.error.FFmpegError, OSError) as exc:
                skipped.append(f"{seg.name}: {exc}")
                continue
            with src:
                istream = src.streams.video[0]
                if ostream is None:
                    ostream = dst.add_stream_from_template(istream)
                first = last = None
                for pkt in src.demux(istream):
                    if pkt.dts is None:
                        continue
                    first = pkt.dts if first is None else first
                    pts = None if pkt.pts is None else pkt.pts - first + offset
                    pkt.dts, pkt.pts = pkt.dts - first + offset, pts
                    last = max(last or 0, (pts or pkt.dts) + (pkt.duration or 0))
                    pkt.stream = ostream
                    dst.mux(pkt)
                    frames += 1
                if last is not None:
                    offset = last
        if ostream is None:
            raise ExportError("none of the segments could be read: " + "; ".join(skipped))
    return {"path": str(out), "frames": frames, "segments": len(segments) - len(skipped), "skipped": skipped}
