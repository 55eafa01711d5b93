"""Pages whose features arrive later: each says plainly what will live there."""

from __future__ import annotations

import panel as pn

from app.views.shell import page
from thermalstream.runtime import Runtime

UPCOMING = {
    "detections": ("Detections", "Timeline, table and gallery of detected people, vehicles and animals. "
                   "Object detection is not built yet."),
    "users": ("Users", "Accounts and roles (admin only). Not built yet: until it is, the server binds to "
              "127.0.0.1 and has no login."),
}


def placeholder_page(runtime: Runtime, key: str) -> pn.template.FastListTemplate:
    title, text = UPCOMING[key]
    return page(runtime, key, title, pn.pane.Alert(text, alert_type="secondary"))
