"""The access table: every route (pages, REST, WebSocket, files) with the least role it needs.

``public`` routes need no login. Roles are ordered viewer < operator < admin. A test fails
when a route or page exists without an entry here, so nothing is ever exposed by accident.
"""

from __future__ import annotations

PUBLIC = "public"
ROLES = ("viewer", "operator", "admin")

# Pages served by Panel (slug -> least role).
PAGES: dict[str, str] = {
    "/": "viewer",
    "/detections": "viewer",
    "/recordings": "viewer",
    "/review": "viewer",
    "/schedules": "viewer",
    "/storage": "viewer",
    "/notifications": "viewer",
    "/thermal": "viewer",
    "/users": "admin",
    "/webhooks": "admin",
}

# Tornado routes: the pattern exactly as in app.routes.build_routes -> {METHOD: least role}.
ROUTES: dict[str, dict[str, str]] = {
    r"/health": {"GET": PUBLIC},
    r"/metrics": {"GET": "admin"},  # or Bearer THERMALSTREAM_METRICS_TOKEN (app.handlers.metrics)
    r"/api/openapi\.json": {"GET": PUBLIC},
    r"/api/docs": {"GET": PUBLIC},
    r"/api/.*": {},  # any other API path: 404 for every method (app.handlers.base.ApiNotFound)
    r"/api/auth/token": {"POST": PUBLIC},
    r"/api/auth/refresh": {"POST": PUBLIC},
    r"/api/auth/logout": {"POST": PUBLIC},
    r"/forgot-password": {"GET": PUBLIC, "POST": PUBLIC},
    r"/reset-password": {"GET": PUBLIC, "POST": PUBLIC},
    r"/change-password": {"GET": "viewer", "POST": "viewer"},  # own password only; anonymous: to the login
    r"/api/cameras": {"GET": "viewer", "POST": "operator"},
    r"/api/cameras/(?P<cid>[0-9]+)": {"GET": "viewer", "PATCH": "operator", "DELETE": "admin"},
    r"/api/cameras/(?P<cid>[0-9]+)/(?P<action>connect|disconnect)": {"POST": "operator"},
    r"/api/cameras/(?P<cid>[0-9]+)/temperature": {"GET": "viewer"},
    r"/api/cameras/(?P<cid>[0-9]+)/shares": {"GET": "viewer", "PUT": "operator"},  # PUT: owner or admin
    r"/api/cameras/(?P<cid>[0-9]+)/radiometry": {"GET": "viewer", "PATCH": "operator"},
    r"/api/cameras/(?P<cid>[0-9]+)/display": {"GET": "viewer", "PATCH": "operator"},
    r"/api/cameras/(?P<cid>[0-9]+)/mjpeg": {"GET": "viewer"},
    r"/api/cameras/(?P<cid>[0-9]+)/snapshot\.jpg": {"GET": "viewer"},
    r"/api/cameras/(?P<cid>[0-9]+)/export\.mp4": {"GET": "viewer"},
    r"/api/cameras/(?P<cid>[0-9]+)/detection": {"GET": "viewer", "PATCH": "operator"},
    r"/api/cameras/(?P<cid>[0-9]+)/zones": {"GET": "viewer", "PUT": "operator"},
    r"/api/cameras/(?P<cid>[0-9]+)/recording-mode": {"GET": "viewer", "PATCH": "operator"},
    r"/api/cameras/(?P<cid>[0-9]+)/timeline": {"GET": "viewer"},  # cameras the user sees
    r"/api/cameras/(?P<cid>[0-9]+)/rois": {"GET": "viewer", "POST": "operator"},
    r"/api/cameras/(?P<cid>[0-9]+)/alarm-rules": {"GET": "viewer", "POST": "operator"},
    r"/api/rois/(?P<roi>[0-9]+)": {"GET": "viewer", "PATCH": "operator", "DELETE": "operator"},
    r"/api/rois/(?P<roi>[0-9]+)/series": {"GET": "viewer"},
    r"/api/rois/(?P<roi>[0-9]+)/live": {"GET": "viewer"},
    r"/api/alarm-rules/(?P<rule>[0-9]+)": {"GET": "viewer", "PATCH": "operator", "DELETE": "operator"},
    r"/api/alarms": {"GET": "viewer"},
    r"/api/alarms/(?P<aid>[0-9]+)": {"PATCH": "viewer"},  # acknowledge; cameras the user sees
    r"/api/detections": {"GET": "viewer"},
    r"/api/detections/(?P<did>[0-9]+)/screenshot\.jpg": {"GET": "viewer"},
    r"/api/events": {"GET": "viewer"},
    r"/api/events/(?P<eid>[0-9]+)/snapshot\.jpg": {"GET": "viewer"},
    r"/api/recording/start": {"POST": "operator"},
    r"/api/recording/stop": {"POST": "operator"},
    r"/api/recordings": {"GET": "viewer"},
    r"/api/recordings/(?P<rid>[0-9]+)": {"GET": "viewer", "PATCH": "operator", "DELETE": "operator"},
    r"/api/recordings/(?P<rid>[0-9]+)/segments/(?P<index>[0-9]+)": {"GET": "viewer"},
    r"/api/recordings/(?P<rid>[0-9]+)/export\.mp4": {"GET": "viewer"},
    r"/api/recordings/(?P<rid>[0-9]+)/thumbnail\.jpg": {"GET": "viewer"},
    r"/api/schedules": {"GET": "viewer"},
    r"/api/schedules/(?P<sid>[0-9]+)": {"GET": "viewer"},
    r"/api/schedule/create": {"POST": "operator"},
    r"/api/schedule/update": {"POST": "operator"},
    r"/api/schedule/delete": {"POST": "operator"},
    r"/api/exports": {"GET": "viewer", "POST": "viewer"},  # own jobs; only cameras the user sees
    r"/api/exports/(?P<xid>x?[0-9a-f]{1,32})": {"GET": "viewer"},
    r"/api/exports/(?P<xid>x?[0-9a-f]{1,32})/download": {"GET": "viewer"},
    r"/api/storage": {"GET": "viewer"},
    r"/api/storage/samples": {"GET": "viewer"},
    r"/api/storage/cleanup": {"POST": "admin"},
    r"/api/webhooks": {"GET": "admin", "POST": "admin"},  # docs/webhooks.md: admins only (SSRF)
    r"/api/webhooks/(?P<wid>[0-9]+)": {"GET": "admin", "PATCH": "admin", "DELETE": "admin"},
    r"/api/webhooks/(?P<wid>[0-9]+)/deliveries": {"GET": "admin"},
    r"/api/webhooks/(?P<wid>[0-9]+)/test": {"POST": "admin"},
    r"/ws/video/(?P<cid>[0-9]+)": {"GET": "viewer"},
    r"/ws/updates": {"GET": "viewer"},
}


def least_role(pattern: str, method: str) -> str:
    """The least role for ``method`` on ``pattern``; KeyError when the table has no entry."""
    return ROUTES[pattern][method.upper()]


def allows(role: str | None, needed: str) -> bool:
    """Whether a user with ``role`` (None: anonymous) may use something that needs ``needed``."""
    if needed == PUBLIC:
        return True
    if role not in ROLES:
        return False
    return ROLES.index(role) >= ROLES.index(needed)


def about_visible_camera(data: dict, visible: set[int] | None) -> bool:
    """Whether an event or notification (its ``data``) concerns no camera or one the user may see."""
    cid = data.get("camera_id")
    return visible is None or not isinstance(cid, int) or cid in visible
