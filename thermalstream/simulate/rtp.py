"""H.264 over RTP: Annex B streams split into NAL units, packetised per RFC 6184 (single NAL and FU-A)."""

from __future__ import annotations

RTP_PT = 96
MAX_PAYLOAD = 1400
CLOCK = 90000


def split_annexb(data: bytes) -> list[bytes]:
    """Split an Annex B byte stream into NAL units (without start codes)."""
    out = []
    n = len(data)
    i = data.find(b"\x00\x00\x01")
    while 0 <= i < n:
        start = i + 3
        j = data.find(b"\x00\x00\x01", start)
        if j < 0:
            end = n
        else:
            end = j
            if end > start and data[end - 1] == 0:  # 4-byte start code of the next NAL
                end -= 1
        nal = data[start:end].rstrip(b"\x00") if j < 0 else data[start:end]
        if nal:
            out.append(nal)
        i = j
    return out


def packetize(nals: list[bytes], max_payload: int = MAX_PAYLOAD) -> list[bytes]:
    """RTP payloads (RFC 6184, packetization-mode=1) for one access unit."""
    out = []
    for nal in nals:
        if len(nal) <= max_payload:
            out.append(nal)
            continue
        hdr = nal[0]
        ind = (hdr & 0xE0) | 28
        typ = hdr & 0x1F
        body = memoryview(nal)[1:]
        chunk = max_payload - 2
        for off in range(0, len(body), chunk):
            first = off == 0
            last = off + chunk >= len(body)
            fu = typ | (0x80 if first else 0) | (0x40 if last else 0)
            out.append(bytes((ind, fu)) + bytes(body[off:off + chunk]))
    return out


class AccessUnit:
    """One encoded frame: its RTP payloads, RTP timestamp and whether it is a key frame."""

    __slots__ = ("payloads", "ts", "key")

    def __init__(self, payloads: list[bytes], ts: int, key: bool):
        self.payloads, self.ts, self.key = payloads, ts, key



__all__ = ["CLOCK", "MAX_PAYLOAD", "RTP_PT", "AccessUnit", "packetize", "split_annexb"]
