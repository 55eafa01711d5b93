"""Record an H.264 camera by remuxing its packets into MP4 segments, without re-encoding.

An RTSP camera already sends H.264; decoding it and encoding it again with x264 costs a core's
worth of CPU per few cameras, while copying the packets into MP4 costs almost nothing (the
approach of Frigate). :class:`RemuxSegmentWriter` has the interface of
:class:`~thermalstream.record.video.SegmentWriter` (``write``/``close``/``abort``/``info``), but
``write`` takes the frame's :class:`~thermalstream.frame.EncodedPacket` instead of an image.

The output stream is set up from the camera's parameter sets (``extradata``) and the first
keyframe: both are parsed by FFmpeg's raw H.264 demuxer into a template stream, so the MP4 gets
the right ``avcC`` box, size and profile. Annex B packets are converted to MP4's length-prefixed
form by the muxer. A segment must begin with a keyframe (the recorder rolls segments only at
keyframes), so every segment decodes on its own.

Timing: packets are timed by the camera's own decode timestamps (RTP clock) where they are known
and sane, anchored to the capture time of the first packet, else by capture time; ``pts`` is
milliseconds since the first packet of the segment, as in :class:`SegmentWriter`.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import av

from thermalstream.frame import EncodedPacket
from thermalstream.record.video import TIME_BASE, SegmentFile, VideoOptions, VideoSegmentInfo, container_options

log = logging.getLogger(__name__)

REMUX_CODECS = ("h264",)
_MAX_DRIFT_S = 2.0  # camera clock vs capture clock: beyond this, re-anchor on capture time

#: Counts for tests and benchmarks: segments written by remux (and never an encoder opened).
stats = {"segments": 0, "packets": 0}


def can_remux(packet: EncodedPacket | None) -> bool:
    return packet is not None and packet.codec in REMUX_CODECS and bool(packet.data)


def avcc_to_annexb(extradata: bytes) -> bytes:
    """SPS/PPS from an ``avcC`` record as an Annex B byte stream (Annex B input is returned as is)."""
    if not extradata or extradata[0] != 1 or len(extradata) < 7:
        return extradata or b""
    out = bytearray()
    pos = 5
    for count_mask in (0x1F, 0xFF):
        n = extradata[pos] & count_mask
        pos += 1
        for _ in range(n):
            size = int.from_bytes(extradata[pos:pos + 2], "big")
            pos += 2
            out += b"\x00\x00\x00\x01" + extradata[pos:pos + size]
            pos += size
    return bytes(out)


class RemuxSegmentWriter(SegmentFile):
    """One MP4 file of the camera's own H.264. ``write(packet, timestamp)`` then ``close()``.

    The first packet must be a keyframe (ValueError otherwise)."""

    def __init__(self, path: str | os.PathLike, first: EncodedPacket, fps: float = 25.0,
                 options: VideoOptions | None = None, metadata: dict[str, str] | None = None) -> None:
        if not can_remux(first):
            raise ValueError(f"cannot remux codec {getattr(first, 'codec', None)!r}")
        if not first.keyframe:
            raise ValueError("a remuxed segment must start with a keyframe")
        self.path = Path(path)
        self.options = opts = options or VideoOptions()
        self.width, self.height = int(first.width), int(first.height)
        self.fps = float(fps) if fps and fps > 0 else 25.0
        self.codec = first.codec
        self.frames = 0
        self.first_ts: float | None = None
        self.last_ts: float | None = None
        self._last_pts = -1
        self._last_dts = -1
        self._anchor: tuple[float, int] | None = None  # (seconds since first packet, camera dts)
        self._closed = False
        self._failed = False
        self._period_ms = max(round(1000 / self.fps), 1)
        template_src = av.open(io.BytesIO(avcc_to_annexb(first.extradata or b"") + first.data), format=first.codec)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._container = av.open(str(self.path), mode="w", format="mp4", options=container_options(opts))
            try:
                for k, v in (metadata or {}).items():
                    self._container.metadata[k] = str(v)
                tmpl = template_src.streams.video[0]
                st = self._container.add_stream_from_template(tmpl)
                st.time_base = TIME_BASE
                if not st.codec_context.width:
                    st.codec_context.width, st.codec_context.height = self.width, self.height
                self._stream = st
            except Exception:
                self._container.close()
                raise
        finally:
            template_src.close()
        stats["segments"] += 1

    def _times(self, packet: EncodedPacket, timestamp: float) -> tuple[int, int]:
        """(pts, dts) in ms since the segment's first packet."""
        rel = float(timestamp) - self.first_ts
        tb = packet.time_base
        if packet.dts is not None and tb:
            if self._anchor is None:
                self._anchor = (rel, packet.dts)
            else:
                cam = self._anchor[0] + float((packet.dts - self._anchor[1]) * tb)
                if cam <= (self._last_dts / 1000) or abs(cam - rel) > _MAX_DRIFT_S:
                    self._anchor = (rel, packet.dts)  # camera clock reset or drifted: follow capture time
                else:
                    rel = cam
        dts = round(rel * 1000)
        if dts <= self._last_dts:
            dts = self._last_dts + 1
        pts = dts
        if packet.pts is not None and packet.dts is not None and tb:
            pts = dts + round(float((packet.pts - packet.dts) * tb) * 1000)
        return pts, dts

    def write(self, packet: EncodedPacket, timestamp: float) -> None:
        """Mux one packet captured at ``timestamp`` (epoch s)."""
        if self._closed:
            raise ValueError("segment is closed")
        if (packet.width, packet.height) != (self.width, self.height):
            raise ValueError(f"packet is {packet.width}x{packet.height}, segment is {self.width}x{self.height}")
        if self.first_ts is None:
            self.first_ts = float(timestamp)
        pts, dts = self._times(packet, timestamp)
        pkt = av.Packet(packet.data)
        pkt.stream = self._stream
        pkt.time_base = TIME_BASE
        pkt.pts, pkt.dts = pts, dts
        pkt.duration = self._period_ms
        pkt.is_keyframe = packet.keyframe
        try:
            self._container.mux(pkt)
            self._synced()
        except Exception:
            self._failed = True
            raise
        self._last_dts = dts
        self._last_pts = max(self._last_pts, pts)
        self.last_ts = float(timestamp)
        self.frames += 1
        stats["packets"] += 1

    @property
    def duration_s(self) -> float:
        if self.frames == 0:
            return 0.0
        return self._last_pts / 1000 + 1.0 / self.fps

    def close(self) -> VideoSegmentInfo:
        """Finalise the file (last fragment for fMP4, moov for faststart)."""
        if self._closed:
            return self.info()
        if self._failed:
            self.abort()
            return self.info()
        self._closed = True
        self._container.close()
        return self.info()

    def abort(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._container.close()
        except Exception:
            log.debug("closing %s after an error failed", self.path, exc_info=True)


__all__ = ["REMUX_CODECS", "RemuxSegmentWriter", "avcc_to_annexb", "can_remux", "stats"]
