"""Parse, classify and mask camera URLs.

Accepted forms::

    0, 1, /dev/video2           USB / V4L2 device (auto-detects Lepton Y16 and TC001 layouts)
    lepton://0, tc001://0       force a radiometric USB layout (also lepton:///dev/video2)
    rtsp://[user:pass@]host/... RTSP stream
    http(s)://host/...          MJPEG stream or JPEG snapshot (decided when opened)
    sim://?people=3&seed=1      simulated thermal camera
    /path/clip.mp4, file://...  video file; .cptv, .seq, .fff, .csq, .jpg (FLIR radiometric JPEG) thermal files
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote_plus, urlsplit

VIDEO_EXTS = {".mp4", ".mkv", ".avi", ".mov", ".m4v", ".webm", ".ts", ".mjpeg", ".mjpg", ".h264", ".mpg"}
# .jpg/.jpeg: FLIR radiometric JPEGs (a JPEG without FLIR data is refused as "a plain picture")
THERMAL_EXTS = {".cptv": "cptv", ".seq": "flir", ".fff": "flir", ".csq": "flir", ".jpg": "flir", ".jpeg": "flir"}
# a query key is secret when it (or one of its words) is one of these, or contains a SECRET_PARTS entry
SECRET_KEYS = {"password", "pass", "pwd", "passwd", "pw", "passphrase", "token", "auth", "key", "apikey",
               "secret", "sig", "signature", "jwt", "bearer", "session", "sessionid", "sid", "credential",
               "credentials", "cred", "hmac", "otp", "pin", "cookie"}
SECRET_PARTS = ("passw", "token", "secret", "apikey", "signature", "credential", "auth", "session", "privatekey")
MAX_URL_LENGTH = 2048
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


_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)([^/?#]*)@")
_PARAM = re.compile(r"(^|[?&;#])([^&;=?#]+)=([^&;#]*)")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def _words(name: str) -> list[str]:
    """``accessToken``, ``X-Amz-Signature``, ``api_key`` → their lower-case words."""
    return [w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", name)]


def secret_key(name: str) -> bool:
    """Whether a query key looks like it carries a secret (password, token, key, signature ...)."""
    key = unquote_plus(name).strip()
    compact = re.sub(r"[^a-z0-9]", "", key.lower())
    if compact in SECRET_KEYS or any(w in SECRET_KEYS for w in _words(key)):
        return True
    return any(part in compact for part in SECRET_PARTS)


def map_secrets(url: str, fn: Callable[[str], str], *, every_value: bool = False) -> str:
    """``url`` with ``fn`` applied to the password of ``user:pass@`` and to each secret-looking
    query or fragment value (every value with ``every_value``); the rest is kept exactly as given.
    Masking, and sealing credentials in the database, both go through here."""
    if not isinstance(url, str):
        return url
    m = _USERINFO.match(url)
    if m and ":" in m.group(2):
        user, password = m.group(2).split(":", 1)
        url = f"{m.group(1)}{user}:{fn(password)}@{url[m.end():]}"
    cut = min((i for i in (url.find("?"), url.find("#")) if i >= 0), default=-1)
    if cut < 0:
        return url

    def one(p: re.Match) -> str:
        sep, key, value = p.groups()
        return f"{sep}{key}={fn(value)}" if value and (every_value or secret_key(key)) else p.group(0)

    return url[:cut] + _PARAM.sub(one, url[cut:])


def mask_credentials(url: str) -> str:
    """Replace the password in ``user:pass@`` and every secret-looking query or fragment value
    (see :func:`secret_key`) with ``***``. Anything else is kept exactly as given."""
    return map_secrets(url, lambda _value: "***")


def mask_text(text: str) -> str:
    """Mask every URL inside free text (error messages from libraries, log lines, notifications)."""
    def one(m: re.Match) -> str:
        url = m.group(0).rstrip(".,:;)]")
        return mask_credentials(url) + m.group(0)[len(url):]

    return _URL_IN_TEXT.sub(one, text) if isinstance(text, str) else text


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
    if len(raw) > MAX_URL_LENGTH:
        raise CameraURLError(f"camera URL is {len(raw)} characters long; at most {MAX_URL_LENGTH} are allowed")
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
