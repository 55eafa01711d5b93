"""The detector's state as pages show it: on every camera card and on the Detections page, with
what to do when it does not work, and the Detect button's look (on, off, on but not detecting)."""

from __future__ import annotations

import html

from thermalstream.detect.types import DetectorStatus

STYLE = """
.ts-detector{font-size:12px;padding:3px 8px;border-radius:4px;margin:2px 0;line-height:1.35}
.ts-detector.ready{background:#e8f5e9;color:#1b5e20}.ts-detector.loading{background:#e3f2fd;color:#0d47a1}
.ts-detector.unavailable,.ts-detector.error{background:#ffebee;color:#b71c1c;border:1px solid #c62828}
.ts-detector code{font-size:11px}
"""

LABELS = {"ready": "ready", "loading": "loading…", "unavailable": "unavailable", "error": "error"}


def working(status: DetectorStatus) -> bool:
    """True when detections can come out of the detector (ready, or still loading)."""
    return status.state in ("ready", "loading")


def detector_html(status: DetectorStatus, detect_on: bool | None = None) -> str:
    """One line (ready) or a red box with the problem and what to do; ``detect_on`` (a camera card)
    adds whether this camera's detection is on and says plainly that it finds nothing."""
    state = status.state if status.state in LABELS else "error"
    what = " · ".join(html.escape(x) for x in (status.model, status.backend) if x)
    text = f"<b>Detector {LABELS[state]}</b>" + (f" ({what})" if what and state == "ready" else "")
    if state in ("unavailable", "error"):
        if detect_on:
            text += ": detection is on for this camera but finds nothing"
        text += f". {_with_code(status.message or 'no reason given')}"
    elif detect_on is not None:
        text += f" · detection {'on' if detect_on else 'off'} for this camera"
    return f'<div class="ts-detector {state}" data-state="{state}">{text}</div>'


def _with_code(message: str) -> str:
    """Escape, then show `back-quoted` commands and THERMALSTREAM_* settings as code."""
    out = html.escape(message)
    parts = out.split("`")
    out = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
    return out.replace("THERMALSTREAM_DETECTOR=hotspot", "<code>THERMALSTREAM_DETECTOR=hotspot</code>")


def detect_button_look(detect_on: bool, status: DetectorStatus) -> dict:
    """Label and colour of the Detect toggle: off (grey), on (green), on but not detecting (red)."""
    if not detect_on:
        return {"label": "Detect off", "button_type": "light"}
    if working(status):
        return {"label": "Detect on", "button_type": "success"}
    return {"label": "⚠ Detect on", "button_type": "danger"}
