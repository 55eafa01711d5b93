"""Who may see a camera, on its Live page card: a "Sharing" toggle (owner or admin) opens a form to
pick users and roles. Nobody picked: every signed-in user sees the camera."""

from __future__ import annotations

import html

import panel as pn

from app.auth import Principal
from app.views.session import session_user
from thermalstream.cameras import ROLE_ORDER, CameraNotFound, ShareError
from thermalstream.runtime import Runtime


def sharing_text(shares: dict) -> str:
    """One line: who sees the camera now."""
    who = [html.escape(u["username"] or str(u["id"])) for u in shares["users"]]
    who += [f"every {html.escape(r)}" for r in shares["roles"]]
    owner = shares["owner"]["username"] if shares["owner"] else None
    if not shares["private"]:
        text = "Shared with every signed-in user"
    else:
        text = "Private: its owner, admins" + "".join(f", {w}" for w in who)
    own = f" · owner {html.escape(owner)}" if owner else " · no owner"
    return f'<small class="ts-sharing" data-private="{int(shares["private"])}">{text}{own}</small>'


class SharingForm(pn.viewable.Viewer):
    """Shown under a camera card to its owner and to admins; every save is checked again."""

    def __init__(self, runtime: Runtime, camera_id: int, user: Principal | None = None, **params) -> None:
        super().__init__(**params)
        self.runtime, self.camera_id = runtime, camera_id
        allowed = user is not None and runtime.cameras.may_manage(camera_id, user.user_id, user.role)
        self.toggle = pn.widgets.Toggle(label="Sharing", width=90, visible=allowed)
        self.summary = pn.pane.HTML("", margin=(0, 5), visible=allowed)
        self.users = pn.widgets.MultiChoice(label="Users who may see it", options=[], width=380)
        self.roles = pn.widgets.CheckBoxGroup(label="Roles", options=list(ROLE_ORDER[:2]), inline=True)
        self.save = pn.widgets.Button(label="Save sharing", color="primary", width=120)
        self.message = pn.pane.HTML("", margin=(0, 5))
        self.save.on_click(self._save)
        self.form = pn.Column(self.users, pn.pane.HTML("<small>…and everyone with the role:</small>"), self.roles,
                              self.save, self.message, visible=False, css_classes=["ts-sharing-form"])
        self.toggle.param.watch(lambda e: self._open(e.new), "value")
        if allowed:
            self.refresh()

    def _allowed(self) -> bool:
        user = session_user(self.runtime)
        return user is not None and self.runtime.cameras.may_manage(self.camera_id, user.user_id, user.role)

    def refresh(self) -> None:
        try:
            shares = self.runtime.cameras.shares(self.camera_id)
        except CameraNotFound:
            return
        self.summary.object = sharing_text(shares)
        self.users.options = sorted(u["username"] for u in self.runtime.auth.users.list())
        self.users.value = [u["username"] for u in shares["users"] if u["username"]]
        self.roles.value = [r for r in shares["roles"] if r in self.roles.options]

    def _open(self, on: bool) -> None:
        if on:
            self.refresh()
        self.form.visible = on

    def _save(self, _event) -> None:
        if not self._allowed():
            self.message.object = '<small style="color:#c62828">Only the owner or an admin may change sharing.</small>'
            return
        try:
            shares = self.runtime.cameras.set_shares(self.camera_id, list(self.users.value), list(self.roles.value))
        except (ShareError, CameraNotFound) as exc:
            self.message.object = f'<small style="color:#c62828">{html.escape(str(exc))}</small>'
            return
        self.summary.object = sharing_text(shares)
        self.message.object = '<small class="ts-sharing-saved">Sharing saved.</small>'

    def __panel__(self):
        return pn.Column(pn.Row(self.toggle, self.summary), self.form, margin=0)
