"""The pages of the served app, one function per URL."""

from __future__ import annotations

from collections.abc import Callable

import panel as pn

from app import access
from app.views.detections import detections_page
from app.views.live import live_page
from app.views.notifications import notifications_page
from app.views.recordings import recordings_page
from app.views.review import review_page
from app.views.schedules import schedules_page
from app.views.session import can, session_user
from app.views.shell import page as shell_page
from app.views.storage import storage_page
from app.views.thermal import thermal_page
from app.views.users import users_page
from app.views.webhooks import webhooks_page
from thermalstream.runtime import Runtime


def _bind(slug: str, fn: Callable, runtime: Runtime, *args) -> Callable[[], object]:
    """A zero-argument page factory (Panel calls plain functions per session; partials it would
    render) that first checks the user's role against ``app.access.PAGES``."""

    def page():
        user = session_user(runtime)
        needed = access.PAGES[slug]
        if not can(user, needed):
            who = user.role if user else "not signed in"
            return shell_page(runtime, "", "Not allowed", pn.pane.Alert(
                f"This page needs the {needed} role (you are {who}).", alert_type="danger"))
        return fn(runtime, *args)

    page.__name__ = getattr(fn, "__name__", "page")
    return page


def create_pages(runtime: Runtime) -> dict[str, Callable[[], object]]:
    """URL slug → page factory (called once per browser session)."""
    pn.extension("tabulator", notifications=True)
    pages = {
        "/": _bind("/", live_page, runtime),
        "/detections": _bind("/detections", detections_page, runtime),
        "/recordings": _bind("/recordings", recordings_page, runtime),
        "/review": _bind("/review", review_page, runtime),
        "/schedules": _bind("/schedules", schedules_page, runtime),
        "/storage": _bind("/storage", storage_page, runtime),
        "/notifications": _bind("/notifications", notifications_page, runtime),
        "/thermal": _bind("/thermal", thermal_page, runtime),
        "/users": _bind("/users", users_page, runtime),
        "/webhooks": _bind("/webhooks", webhooks_page, runtime),
    }
    return pages
