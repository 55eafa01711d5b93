"""Parse, classify and mask camera URLs.

Accepted forms::

    0, 1, /dev/video2           USB / V4L2 device (auto-detects Lepton Y16 and TC001 layouts)
    lepton://0, tc001://0       force a radiometric USB layout (also lepton:///dev/video2)
    rtsp://[user:pass@]host/... RTSP stream
    http(s)://host/...          MJPEG stream or JPEG snapshot (decided when opened)
    sim://?people=3&seed=1      simulated thermal camera
    /path/clip.mp4, file://...  video file; .cptv, .seq, .fff thermal files
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

VIDEO_EXTS = {".mp4", ".mkv", ".avi", ".mov", ".m4v", ".webm", ".ts", ".mjpeg", ".mjpg", ".h264", ".mpg"}
THERMAL_EXTS = {".cptv": "cptv", ".seq": "flir", ".fff": "flir"}
SECRET_KEYS = {"password", "pass", "pwd", "passwd", "token", "auth", "key", "apikey", "api_key", "secret"}
_SCHEMES = {"rtsp", "rtsps", "http", "https", "sim", "file", "lepton", "tc001", "topdon", "p2pro"}


class CameraURLError(ValueError):
    """A camera URL that cannot be used; the message says why and never contains credentials."""


@dataclass(frozen=True)
class CameraURL:
    """A parsed camera address.

    ``kind`` is one of: usb, rtsp, http, sim, file, cptv, flir, lepton, topdon.
    ``device`` is the USB index or device path for local cameras; ``path`` the file path.
    """

    raw: str
    kind: str
    device: int | str | None = None
    path: Path | None = None
    params: dict[str, str] = field(default_factory=dict)

    @property
    def masked(self) -> str:
        return mask_credentials(self.raw)

    @property
    def is_file(self) -> bool:
        return self.kind in ("file", "cptv", "flir")

    def __str__(self) -> str:  # never leak credentials by accident
        return self.masked

    def __repr__(self) -> str:
        return f"CameraURL({self.masked!r}, kind={self.kind!r})"


def mask_credentials(url: str) -> str:
    """Replace passwords in ``user:pass@`` and in secret-looking query parameters with ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"//([^/@:]*):[^/@]*@", r"//\1:***@", url)
    if not parts.scheme or parts.scheme not in _SCHEMES:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"{user}@{host}"
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    secret = any(k.lower() in SECRET_KEYS for k, _ in pairs)
    if netloc == parts.netloc and not secret:
        return url  # nothing to hide: keep the text exactly as given
    query = parts.query
    if secret:
        query = "&".join(f"{k}=***" if k.lower() in SECRET_KEYS else f"{k}={v}" for k, v in pairs)
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "") + (
        f"#{parts.fragment}" if parts.fragment else ""
    )


def _device(text: str) -> int | str:
    text = text.strip()
    if text.isdigit():
        return int(text)
    if re.fullmatch(r"/dev/video\d+", text):
        return text
    raise CameraURLError(f"not a video device: {text!r} (use an index like 0 or /dev/videoN)")


def parse_camera_url(url: str, *, must_exist: bool = True) -> CameraURL:
    """Parse and classify ``url``; raise :class:`CameraURLError` with a clear message."""
    if not isinstance(url, str):
        raise CameraURLError("camera URL must be a string")
    raw = url.strip()
    if not raw:
        raise CameraURLError("camera URL is empty")
    if any(c in raw for c in "\n\r\t\x00"):
        raise CameraURLError("camera URL contains control characters")
    if raw.isdigit() or raw.startswith("/dev/video"):
        return CameraURL(raw, "usb", device=_device(raw))

    scheme = raw.split("://", 1)[0].lower() if "://" in raw else ""
    if scheme:
        if scheme not in _SCHEMES:
            raise CameraURLError(
                f"unsupported scheme {scheme!r} in {mask_credentials(raw)!r}; "
                "use rtsp://, http(s)://, sim://, file://, lepton://, tc001:// or a device/file path"
            )
        try:
            parts = urlsplit(raw)
            port = parts.port  # raises ValueError on a bad port
        except ValueError as exc:
            raise CameraURLError(f"malformed URL {mask_credentials(raw)!r}: {exc}") from None
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if scheme in ("rtsp", "rtsps", "http", "https"):
            if not parts.hostname:
                raise CameraURLError(f"URL {mask_credentials(raw)!r} has no host")
            if port == 0:
                raise CameraURLError(f"URL {mask_credentials(raw)!r} has port 0")
            return CameraURL(raw, "rtsp" if scheme.startswith("rtsp") else "http", params=params)
        if scheme == "sim":
            return CameraURL(raw, "sim", params=params)
        if scheme in ("lepton", "tc001", "topdon", "p2pro"):
            dev = (parts.netloc + parts.path) or "0"
            kind = "lepton" if scheme == "lepton" else "topdon"
            return CameraURL(raw, kind, device=_device(dev), params=params)
        # file://
        return _file_url(raw, Path(parts.path), must_exist, params)
    path, _, query = raw.partition("?")  # plain paths take options too: clip.seq?loop=1
    return _file_url(raw, Path(path).expanduser(), must_exist, dict(parse_qsl(query, keep_blank_values=True)))


def _file_url(raw: str, path: Path, must_exist: bool, params: dict[str, str]) -> CameraURL:
    ext = path.suffix.lower()
    if ext in THERMAL_EXTS:
        kind = THERMAL_EXTS[ext]
    elif ext in VIDEO_EXTS:
        kind = "file"
    else:
        raise CameraURLError(
            f"cannot tell what {raw!r} is: not a URL, device or known file type "
            f"(video: {', '.join(sorted(VIDEO_EXTS))}; thermal: {', '.join(sorted(THERMAL_EXTS))})"
        )
    if must_exist and not path.is_file():
        raise CameraURLError(f"file not found: {path}")
    return CameraURL(raw, kind, path=path, params=params)
