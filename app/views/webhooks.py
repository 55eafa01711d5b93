"""The Webhooks page (admins only): add, edit, delete and test webhooks; each one's delivery log,
coloured by outcome and updated as attempts are made (bus topic ``webhook.delivery``)."""

from __future__ import annotations

import html
import threading
from functools import partial

import pandas as pd
import panel as pn

from app.views.session import can, session_user, viewer_zone, when_zone_known
from app.views.shell import page
from app.views.text import md_escape
from thermalstream.integrations import webhook_store as store
from thermalstream.integrations.payloads import EVENT_TYPES
from thermalstream.integrations.webhooks import TOPIC
from thermalstream.notifications import format_local, zone_label
from thermalstream.runtime import Runtime

GLOBAL = "Global (every camera)"
LOG_ROWS = 50
STYLE = """
.ts-wh-log table{border-collapse:collapse;width:100%;font-size:13px}
.ts-wh-log td,.ts-wh-log th{padding:4px 8px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
.ts-wh-log tr.ok td.result{color:#fff;background:#2e7d32}
.ts-wh-log tr.retry td.result{color:#fff;background:#ef6c00}
.ts-wh-log tr.failed td.result{color:#fff;background:#c62828}
"""
SSRF_NOTE = ("Only admins configure webhooks. The server POSTs to any http(s) host named here, **including "
             "hosts on internal networks**; redirects are not followed. See docs/webhooks.md for the signature.")


def outcome(d: dict) -> str:
    """ok, retry (failed, another attempt is due) or failed (no more attempts)."""
    return "ok" if d["ok"] else ("retry" if d["next_attempt_at"] else "failed")


def log_html(rows: list[dict], tz: str | None) -> str:
    """The delivery log as a table, one row per attempt, newest first."""
    if not rows:
        return "<p>No deliveries yet. <b>Send test</b> sends one.</p>"
    head = "<tr><th>time</th><th>event</th><th>attempt</th><th>result</th><th>ms</th><th>detail</th></tr>"
    body = []
    for d in rows:
        result = str(d["status_code"]) if d["status_code"] is not None else "error"
        detail = d["error"] or d["response_excerpt"] or ""
        if d["next_attempt_at"]:
            detail += f" (retry at {format_local(d['next_attempt_at'], tz, '%H:%M:%S')})"
        body.append(f'<tr class="{outcome(d)}" data-delivery="{html.escape(d["delivery"])}">'
                    f"<td>{html.escape(format_local(d['at'], tz))}</td><td>{html.escape(d['event_type'])}</td>"
                    f"<td>{d['attempt']}</td><td class=\"result\">{html.escape(result)}</td>"
                    f"<td>{d['duration_ms']:.0f}</td><td>{html.escape(detail)}</td></tr>")
    return f"<table>{head}{''.join(body)}</table>"


class WebhooksPage(pn.viewable.Viewer):
    def __init__(self, runtime: Runtime, **params) -> None:
        super().__init__(**params)
        self.runtime = runtime
        self.service = runtime.webhooks
        self.hook_name = pn.widgets.TextInput(label="Name", width=160)
        self.url = pn.widgets.TextInput(label="URL (http or https)", width=320, placeholder="https://…")
        self.events = pn.widgets.MultiChoice(label="Event types", options=list(EVENT_TYPES), width=320,
                                             placeholder="choose event types")
        self.cameras = pn.widgets.MultiChoice(label="Cameras (none: every camera)", width=240)
        self.owner = pn.widgets.Select(label="For", width=200)
        self.secret = pn.widgets.PasswordInput(label="Secret (empty: generate one)", width=220)
        self.enabled = pn.widgets.Checkbox(label="Enabled", value=True, align="end", css_classes=["ts-wh-enabled"])
        self.add = pn.widgets.Button(label="Add webhook", color="primary", width=130, align="end")
        self.save = pn.widgets.Button(label="Save changes", width=120, align="end")
        self.test = pn.widgets.Button(label="Send test", width=100, align="end")
        self.rotate = pn.widgets.Button(label="New secret", width=110, align="end")
        self.delete = pn.widgets.Button(label="Delete", color="danger", width=90, align="end")
        self.message = pn.pane.Alert("", visible=False, sizing_mode="stretch_width")
        self.queue = pn.pane.Alert("", alert_type="light", sizing_mode="stretch_width", css_classes=["ts-wh-queue"])
        self.table = pn.widgets.Tabulator(pd.DataFrame(), disabled=True, show_index=False, selectable=1,
                                          sizing_mode="stretch_width", height=220, css_classes=["ts-webhooks"])
        self.log = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["ts-wh-log"], stylesheets=[STYLE])
        self.log_title = pn.pane.Markdown("### Delivery log")
        self.add.on_click(self._add)
        self.save.on_click(lambda e: self._on_selected(self._save))
        self.test.on_click(lambda e: self._on_selected(self._test))
        self.rotate.on_click(lambda e: self._on_selected(self._rotate))
        self.delete.on_click(lambda e: self._on_selected(self._delete))
        self.table.param.watch(lambda e: self._selected_changed(), "selection")
        self.rows: list[dict] = []
        self._confirm_delete: int | None = None
        self._select_next: int | None = None
        self._listen()
        self.refresh()
        when_zone_known(self.refresh)

    # --- state -----------------------------------------------------------------------------

    def _listen(self) -> None:
        """Redraw when attempts are logged (any thread publishes): at once for the selected webhook,
        else at most once a second (its "last delivery" column), so a busy receiver costs little."""
        doc = pn.state.curdoc
        if doc is None:
            return
        pending = threading.Event()

        def redraw() -> None:
            pending.clear()
            self.refresh()

        def logged(event) -> None:
            if event.data.get("webhook_id") == (self._selected() or {}).get("id"):
                doc.add_next_tick_callback(redraw)
            elif not pending.is_set():
                pending.set()
                doc.add_next_tick_callback(lambda: doc.add_timeout_callback(redraw, 1000))

        unsubscribe = self.runtime.bus.subscribe(logged, TOPIC)
        pn.state.on_session_destroyed(lambda ctx: unsubscribe())

    def _choices(self) -> None:
        self.cameras.options = {f"{c['name']} (#{c['id']})": c["id"] for c in self.runtime.cameras.list()}
        self.owner.options = {GLOBAL: 0, **{f"{u['username']} ({u['role']}): cameras they see": u["id"]
                                              for u in self.runtime.auth.users.list()}}

    def refresh(self) -> None:
        self._choices()
        keep, self._select_next = self._select_next or (self._selected() or {}).get("id"), None
        self.rows = store.list_webhooks(self.runtime.db)
        tz = viewer_zone()
        self.table.value = pd.DataFrame(
            [{"name": w["name"], "url": w["url"], "events": ", ".join(w["event_types"]),
              "cameras": ", ".join(map(str, w["camera_ids"] or [])) or "all", "for": w["owner"] or "global",
              "enabled": w["enabled"], "last delivery": self._last(w, tz)} for w in self.rows],
            columns=["name", "url", "events", "cameras", "for", "enabled", "last delivery"])
        index = next((i for i, w in enumerate(self.rows) if w["id"] == keep), None)
        self.table.selection = [index] if index is not None else []
        stats = self.service.stats()
        self.queue.object = (f"Delivery queue: {stats['queued']} waiting, {stats['retrying']} waiting to retry, "
                             f"{stats['dropped']} dropped (queue full). Times in {zone_label(tz)}.")
        self.queue.alert_type = "warning" if stats["dropped"] else "light"
        self._show_log()

    @staticmethod
    def _last(w: dict, tz: str | None) -> str:
        d = w["last_delivery"]
        if d is None:
            return ""
        return f"{outcome(d)} {d['status_code'] or d['error'] or ''} at {format_local(d['at'], tz)}"

    def _selected(self) -> dict | None:
        sel = self.table.selection
        return self.rows[sel[0]] if sel and sel[0] < len(self.rows) else None

    def _selected_changed(self) -> None:
        w = self._selected()
        self._confirm_delete = None
        self.delete.label = "Delete"
        if w is not None:
            self.hook_name.value, self.url.value = w["name"], w["url"]
            self.events.value = list(w["event_types"])
            self.cameras.value = [c for c in (w["camera_ids"] or []) if c in self.cameras.options.values()]
            self.owner.value = w["owner_id"] or 0
            self.enabled.value = w["enabled"]
        self._show_log()

    def _show_log(self) -> None:
        w = self._selected()
        if w is None:
            self.log_title.object = "### Delivery log"
            self.log.object = "<p>Select a webhook to see its delivery log.</p>"
            return
        rows = store.deliveries(self.runtime.db, w["id"], LOG_ROWS)["deliveries"]
        self.log_title.object = f"### Delivery log of {md_escape(w['name'])}"
        self.log.object = log_html(rows, viewer_zone())

    # --- actions (the role is checked again on every click) ---------------------------------

    def _admin(self) -> bool:
        if can(session_user(self.runtime), "admin"):
            return True
        self._say("Only admins may change webhooks.", "danger")
        return False

    def _say(self, text: str, kind: str = "success") -> None:
        self.message.object, self.message.alert_type, self.message.visible = md_escape(text), kind, True

    def _form(self) -> dict:
        return {"name": self.hook_name.value, "url": self.url.value, "event_types": list(self.events.value),
                "camera_ids": list(self.cameras.value) or None, "owner_id": self.owner.value or None,
                "enabled": self.enabled.value, **({"secret": self.secret.value} if self.secret.value else {})}

    def _guarded(self, action) -> None:
        try:
            action()
        except (store.WebhookError, store.NotFound, ValueError) as exc:
            self._say(str(exc), "danger")
            return
        self.secret.value = ""
        self.refresh()

    def _add(self, _event) -> None:
        if self._admin():
            self._guarded(self._create)

    def _create(self) -> None:
        user = session_user(self.runtime)
        hook, secret = self.service.create(self._form(), user.user_id if user else None)
        self._select_next = hook["id"]  # refresh() selects it once the table holds it
        self._say(f"Added {hook['name']}. Its secret (shown once, give it to the receiver): {secret}")

    def _on_selected(self, action) -> None:
        if not self._admin():
            return
        w = self._selected()
        if w is None:
            self._say("Select a webhook in the table first.", "warning")
            return
        self._guarded(partial(action, w))

    def _save(self, w: dict) -> None:
        form = self._form()
        if form["url"] == w["url"]:
            form.pop("url")  # the shown URL is masked: keep the stored one
        hook, _ = self.service.update(w["id"], form)
        self._say(f"Saved {hook['name']}.")

    def _rotate(self, w: dict) -> None:
        _, secret = self.service.update(w["id"], {"rotate_secret": True})
        self._say(f"New secret for {w['name']} (shown once; the old one no longer verifies): {secret}")

    def _test(self, w: dict) -> None:
        self.service.send_test(w["id"])
        self._say(f"Test event queued for {w['name']}; its attempts appear in the log below.", "info")

    def _delete(self, w: dict) -> None:
        if self._confirm_delete != w["id"]:
            self._confirm_delete = w["id"]
            self.delete.label = "Confirm delete"
            self._say(f"Click Confirm delete to delete {w['name']} and its delivery log.", "warning")
            return
        self.service.delete(w["id"])
        self._confirm_delete = None
        self.delete.label = "Delete"
        self.table.selection = []
        self._say(f"Deleted {w['name']}.")

    def __panel__(self):
        return pn.Column(
            pn.pane.Alert(SSRF_NOTE, alert_type="info", sizing_mode="stretch_width"),
            pn.Row(self.hook_name, self.url, self.events),
            pn.Row(self.cameras, self.owner, self.secret, self.enabled),
            pn.Row(self.add, self.save, self.test, self.rotate, self.delete),
            self.message, self.queue, self.table, self.log_title, self.log,
            sizing_mode="stretch_width",
        )


def webhooks_page(runtime: Runtime):
    return page(runtime, "webhooks", "Webhooks", WebhooksPage(runtime))
