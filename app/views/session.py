"""Who is using this browser session, and what they may do."""

from __future__ import annotations

import panel as pn

from app import access
from app.auth import Principal, principal_from_cookie
from thermalstream.runtime import Runtime


def session_user(runtime: Runtime) -> Principal | None:
    """The logged-in user of the current Panel session (role read from the database)."""
    name = pn.state.user
    if not name or name == "guest":
        return None
    return principal_from_cookie(runtime, name)


def can(user: Principal | None, role: str) -> bool:
    return user is not None and access.allows(user.role, role)


def visible_cameras(runtime: Runtime, user: Principal | None) -> set[int] | None:
    """Camera ids this user may see (None: all); nothing when nobody is logged in."""
    if user is None:
        return set()
    return runtime.cameras.visible_ids(user.user_id, user.role)


def viewer_zone() -> str | None:
    """The browser's IANA time zone (None until the page has loaded; pages refresh on load).
    Times are shown in it with ``thermalstream.notifications.format_local``."""
    return getattr(pn.state.browser_info, "timezone", None)


def when_zone_known(callback) -> None:
    """Call ``callback()`` again once the browser has told its time zone (after the first render:
    on load, or when the browser's report arrives later), so times are shown in it."""
    info = pn.state.browser_info
    if info is not None:
        watcher = info.param.watch(lambda event: callback() if event.new else None, "timezone")
        pn.state.on_session_destroyed(lambda ctx: info.param.unwatch(watcher))
    pn.state.onload(callback)


def follow_cameras(runtime: Runtime, select, names: dict[int, str], on_change=None, all_label: str | None = None):
    """Keep a page's camera menu and its id → name map to the cameras the user may see now.

    Fills ``names`` (in place) and ``select.options`` (``all_label`` → 0 first, when given) and does so
    again when the session's bridge says cameras changed (added, renamed, removed, shared): then
    ``on_change(visible)`` lets the page re-read what it shows. Returns the visible ids (None: all)."""
    from app.views.bridge import session_bridge  # the bridge module stays free of session helpers

    bridge = session_bridge(runtime)

    def fill(first: bool = False):
        visible = visible_cameras(runtime, session_user(runtime))
        fresh = {c["id"]: c["name"] for c in runtime.cameras.list(visible)}
        if not first and fresh == names:
            return visible
        bridge.see(visible)  # news about a camera shared with the user now reach this session
        names.clear()
        names.update(fresh)
        select.options = ({all_label: 0} if all_label else {}) | {name: cid for cid, name in fresh.items()}
        if not first and on_change is not None:
            on_change(visible)
        return visible

    bridge.param.watch(lambda _e: fill(), "cameras")
    return fill(first=True)


class CameraFilter:
    """For a page that shows one camera or all (its ``camera`` parameter, 0 or None: all) of those in
    ``names`` (the cameras the user may see: :func:`follow_cameras`), with ``visible`` and ``refresh()``."""

    names: dict[int, str]

    def _camera_id(self) -> int | None:
        """The chosen camera, if the user may see it (None: all cameras)."""
        return self.camera if self.camera in self.names else None

    def _cameras_changed(self, visible: set[int] | None) -> None:
        """A camera added, renamed, removed or shared: the menu is new; re-read what the page shows."""
        self.visible = visible
        if not self._drop_unseen_camera():
            self.refresh()

    def _drop_unseen_camera(self) -> bool:
        """A camera chosen (by a link, or before) that the user may not see (now): all cameras instead
        (which refreshes). True when it did so."""
        if self.camera and self.camera not in self.names:
            self.camera = 0
            return True
        return False
