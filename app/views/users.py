"""The Users page (admins only): accounts, roles, password resets, unlocking, deleting."""

from __future__ import annotations


import pandas as pd
import panel as pn

from app.views.session import can, session_user, viewer_zone, when_zone_known
from app.views.shell import page
from app.views.text import md_escape
from thermalstream.auth import AuthValueError
from thermalstream.notifications import format_local
from thermalstream.runtime import Runtime

ROLES = ["viewer", "operator", "admin"]


class UsersPage(pn.viewable.Viewer):
    def __init__(self, runtime: Runtime, **params) -> None:
        super().__init__(**params)
        self.runtime = runtime
        self.users = runtime.auth.users
        self.username = pn.widgets.TextInput(label="Username", width=180)
        self.email = pn.widgets.TextInput(label="Email (for password resets)", width=240)
        self.role = pn.widgets.Select(label="Role", options=ROLES, width=120)
        self.password = pn.widgets.PasswordInput(label="Password (empty: generate one)", width=240)
        self.add = pn.widgets.Button(label="Add user", color="primary", width=110, align="end")
        self.message = pn.pane.Alert("", visible=False, sizing_mode="stretch_width")
        self.table = pn.widgets.Tabulator(pd.DataFrame(), disabled=True, show_index=False, selectable=1,
                                          sizing_mode="stretch_width", height=300)
        self.set_role = pn.widgets.Select(label="Change role to", options=ROLES, width=140)
        self.apply_role = pn.widgets.Button(label="Set role", width=100, align="end")
        self.reset = pn.widgets.Button(label="New password", width=130, align="end")
        self.unlock = pn.widgets.Button(label="Unlock", width=90, align="end")
        self.alerts = pn.widgets.Button(label="Email alerts on/off", width=160, align="end")
        self.alerts.on_click(lambda e: self._on_selected(
            lambda u: self.users.set_email_alerts(u, not self.users.get(u)["email_alerts"]), "email alerts switched"))
        self.delete = pn.widgets.Button(label="Delete", color="danger", width=90, align="end")
        self.add.on_click(self._add)
        self.apply_role.on_click(lambda e: self._on_selected(lambda u: self.users.set_role(u, self.set_role.value),
                                                             "role changed"))
        self.reset.on_click(self._reset)
        self.unlock.on_click(lambda e: self._on_selected(self.users.unlock, "unlocked"))
        self.delete.on_click(lambda e: self._on_selected(self.users.delete, "deleted"))
        self.rows: list[dict] = []
        self.refresh()
        when_zone_known(self.refresh)  # times in the browser's zone once it is known

    def _admin(self) -> bool:
        """Checked again on every action: a widget event is not proof of the role."""
        if can(session_user(self.runtime), "admin"):
            return True
        self._say("Only admins may change users.", "danger")
        return False

    def _say(self, text: str, kind: str = "success") -> None:
        self.message.object, self.message.alert_type, self.message.visible = md_escape(text), kind, True

    def refresh(self) -> None:
        self.rows = self.users.list()
        tz = viewer_zone()
        self.table.value = pd.DataFrame(
            [{"username": u["username"], "role": u["role"], "email": u["email"] or "",
              "active": u["is_active"], "email alerts": u["email_alerts"], "last login": format_local(u["last_login_at"], tz) if u["last_login_at"] else "",
              "locked until": format_local(u["locked_until"], tz) if u["locked_until"] else ""} for u in self.rows],
            columns=["username", "role", "email", "active", "email alerts", "last login", "locked until"])

    def _add(self, _event) -> None:
        if not self._admin():
            return
        password = self.password.value or None
        generated = None
        try:
            if password is None:
                from thermalstream.auth import generate_password

                password = generated = generate_password()
            self.users.create(self.username.value, password, self.role.value, self.email.value or None)
        except AuthValueError as exc:
            self._say(str(exc), "danger")
            return
        note = f" One-time password: {generated} (shown once)." if generated else ""
        self._say(f"Added {self.username.value} as {self.role.value}.{note}")
        self.username.value = self.email.value = self.password.value = ""
        self.refresh()

    def _selected(self) -> dict | None:
        sel = self.table.selection
        return self.rows[sel[0]] if sel else None

    def _on_selected(self, action, done) -> None:
        """Run ``action(username)`` on the selected user; ``done`` is a message or a function of the result."""
        if not self._admin():
            return
        user = self._selected()
        if user is None:
            self._say("Select a user in the table first.", "warning")
            return
        try:
            result = action(user["username"])
        except AuthValueError as exc:
            self._say(str(exc), "danger")
            return
        self._say(f"{user['username']}: {done(result) if callable(done) else done}.")
        self.refresh()

    def _reset(self, _event) -> None:
        self._on_selected(self.users.reset_password,
                          lambda pw: f"new one-time password {pw} (shown once; their sessions and tokens were revoked)")

    def mail_state(self) -> pn.pane.Alert:
        """Admins see at once when mail is off: 'Forgot password' and alert mails then send nothing."""
        on = self.runtime.auth.mailer.config.enabled
        return pn.pane.Alert(
            "**Mail is not set up** (`THERMALSTREAM_SMTP_HOST` is empty): \"Forgot password\" sends no reset link "
            "and alert mails are not sent. Users who forget their password need a new one from you "
            "(select them, then **New password**), or set up mail and restart.",
            alert_type="warning", visible=not on, sizing_mode="stretch_width", css_classes=["ts-mail-off"])

    def __panel__(self):
        return pn.Column(
            self.mail_state(),
            pn.Row(self.username, self.email, self.role, self.password, self.add),
            self.message,
            self.table,
            pn.Row(self.set_role, self.apply_role, self.reset, self.unlock, self.alerts, self.delete),
            sizing_mode="stretch_width",
        )


def users_page(runtime: Runtime):
    return page(runtime, "users", "Users", UsersPage(runtime))
