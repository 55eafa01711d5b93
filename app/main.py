"""The pages of the served app, one function per URL."""

from __future__ import annotations

from collections.abc import Callable

import panel as pn

from app.views.live import live_page
from app.views.notifications import notifications_page
from app.views.placeholder import UPCOMING, placeholder_page
from app.views.recordings import recordings_page
from app.views.schedules import schedules_page
from app.views.storage import storage_page
from thermalstream.runtime import Runtime


def _bind(fn: Callable, *args) -> Callable[[], object]:
    """A zero-argument page factory (Panel calls plain functions per session; partials it would render)."""

    def page():
        return fn(*args)

    page.__name__ = getattr(fn, "__name__", "page")
    return page


def create_pages(runtime: Runtime) -> dict[str, Callable[[], object]]:
    """URL slug → page factory (called once per browser session)."""
    pn.extension("tabulator", notifications=True)
    pages = {
        "/": _bind(live_page, runtime),
        "/recordings": _bind(recordings_page, runtime),
        "/schedules": _bind(schedules_page, runtime),
        "/storage": _bind(storage_page, runtime),
        "/notifications": _bind(notifications_page, runtime),
    }
    for key in UPCOMING:
        pages[f"/{key}"] = _bind(placeholder_page, runtime, key)
    return pages
