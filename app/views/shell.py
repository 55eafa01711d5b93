"""The page shell: header, navigation to every page, notification toasts pushed live."""

from __future__ import annotations

import time
from functools import partial

import panel as pn

from app import access
from app.access import about_visible_camera
from app.auth import Principal
from app.views.bridge import every
from app.views.offline import template_options
from app.views.session import can, session_user, visible_cameras
from thermalstream.bus import Event
from thermalstream.runtime import Runtime

DETECTION_TOAST_INTERVAL_S = 30.0

PAGES = [
    ("live", "Live", "/"),
    ("detections", "Detections", "/detections"),
    ("recordings", "Recordings", "/recordings"),
    ("review", "Review", "/review"),
    ("thermal", "Thermal", "/thermal"),
    ("schedules", "Schedules", "/schedules"),
    ("storage", "Storage", "/storage"),
    ("notifications", "Notifications", "/notifications"),
    ("users", "Users", "/users"),
    ("webhooks", "Webhooks", "/webhooks"),
]

STYLE = """
.ts-nav a{display:block;padding:8px 12px;margin:2px 0;border-radius:6px;color:inherit;text-decoration:none}
.ts-nav a:hover{background:rgba(0,0,0,.06)}
.ts-nav a.active{background:#e8532f;color:#fff}
.ts-user{margin-top:24px;padding:8px 12px;font-size:13px;color:#555;border-top:1px solid #ddd}
.ts-badge{display:inline-block;padding:2px 8px;border-radius:10px;font-size:12px;color:#fff}
.ts-badge.live{background:#2e7d32}.ts-badge.connecting{background:#1565c0}
.ts-badge.reconnecting{background:#ef6c00}.ts-badge.failed{background:#c62828}.ts-badge.stopped{background:#616161}
"""


def nav(active: str, user: Principal | None) -> pn.pane.HTML:
    """Links to the pages this user may open, and who is logged in."""
    links = "".join(
        f'<a href="{href}" class="{"active" if key == active else ""}" data-page="{key}">{label}</a>'
        for key, label, href in PAGES
        if can(user, access.PAGES[href])
    )
    who = (f'<div class="ts-user">Signed in as <b>{_esc(user.username)}</b> ({_esc(user.role)})<br>'
           f'<a href="/change-password" data-page="password">Change password</a>'
           f'<a href="/logout" data-page="logout">Log out</a></div>') if user else ""
    return pn.pane.HTML(f'<nav class="ts-nav">{links}</nav>{who}', sizing_mode="stretch_width", stylesheets=[STYLE])


def push_notifications(runtime: Runtime) -> None:
    """Show each new notification as a toast in this browser session while it is open."""
    doc = pn.state.curdoc
    area = pn.state.notifications
    if doc is None or area is None:
        return

    user = session_user(runtime)
    me = user.user_id if user else None
    visible = visible_cameras(runtime, user)

    last_detection: dict[object, float] = {}

    def show(event: Event) -> None:  # called on whichever thread published
        if event.user_id is not None and event.user_id != me:  # other users' notifications stay private
            return
        data = event.data.get("data") or {}
        if not about_visible_camera(data, visible):
            return
        if data.get("kind") == "detection":  # busy scenes: one toast per camera per interval (all are saved)
            now = time.monotonic()
            if now - last_detection.get(data.get("camera_id"), -1e9) < DETECTION_TOAST_INTERVAL_S:
                return
            last_detection[data.get("camera_id")] = now
        d = event.data
        text = f"<b>{_esc(d.get('title', ''))}</b><br>{_esc(d.get('message', ''))}"
        kind = d.get("type", "info")
        doc.add_next_tick_callback(partial(area.send, text, duration=5000, type=kind))

    unsubscribe = runtime.bus.subscribe(show, "notification")
    pn.state.on_session_destroyed(lambda ctx: unsubscribe())


SESSION_CHECK_MS = 5000


def end_with_session(runtime: Runtime) -> None:
    """Reload this page (which then asks for a login) as soon as its user's sessions end: at once
    for changes made in this server (bus topic ``user.sessions``), within 5 s for the CLI's."""
    user, doc, loc = session_user(runtime), pn.state.curdoc, pn.state.location
    if user is None or doc is None or loc is None:
        return

    def check() -> None:
        if session_user(runtime) is None:
            loc.reload = True

    def ended(event: Event) -> None:  # any thread
        if event.data.get("user_id") == user.user_id:  # a moment later: a logout in this tab navigates first
            doc.add_next_tick_callback(lambda: doc.add_timeout_callback(check, 1500))

    unsubscribe = runtime.bus.subscribe(ended, "user.sessions")
    every(check, SESSION_CHECK_MS)
    pn.state.on_session_destroyed(lambda ctx: unsubscribe())


def _esc(text: str) -> str:
    import html

    return html.escape(str(text))


def page(runtime: Runtime, active: str, title: str, *main) -> pn.template.FastListTemplate:
    """Wrap page content in the shared template."""
    push_notifications(runtime)
    end_with_session(runtime)
    return pn.template.FastListTemplate(
        title="ThermalStream",
        site_url="/",
        sidebar=[nav(active, session_user(runtime))],
        main=[pn.pane.Markdown(f"## {title}"), *main],
        accent="#e8532f",
        header_background="#202124",
        sidebar_width=200,
        main_layout=None,
        **template_options(),  # no web fonts from the internet: every asset is served by us
    )
