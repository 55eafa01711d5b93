"""An export control for pages: pick a format, press Export, watch the progress bar, download.

The export runs in the core's ExportService (the same one behind ``POST /api/exports``) as the signed-in
user, limited to the cameras they may see; the link goes to ``/api/exports/{id}/download``, which checks
again. A notification with the same link arrives when the job ends, also if the page was closed.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import panel as pn
import param
from pydantic import ValidationError

from app.views.bridge import every
from app.views.session import session_user, visible_cameras
from thermalstream.datasets.jobs import ExportRequest
from thermalstream.runtime import Runtime

POLL_MS = 300


class ExportControl(pn.viewable.Viewer):
    """``request()`` returns the fields of an :class:`ExportRequest` (without ``format``) for what the
    page shows now, or raises ValueError with a message for the user."""

    format = param.Selector(objects=["csv"], doc="file format")
    status = param.String(default="", doc="HTML under the button")

    def __init__(self, runtime: Runtime, formats: dict[str, str], request: Callable[[], dict],
                 label: str = "Export", **params) -> None:
        super().__init__(**params)
        self.runtime = runtime
        self.request = request
        self.param.format.objects = list(formats.values())
        self.format = next(iter(formats.values()))
        self._labels = formats
        self.picker = pn.widgets.Select(label="Format", options=formats, value=self.format, width=120)
        self.picker.link(self, value="format")
        self.button = pn.widgets.Button(label=label, color="primary", width=max(110, 9 * len(label) + 20), align="end")
        self.button.on_click(lambda e: self.start())
        self.bar = pn.indicators.Progress(value=0, max=100, width=200, visible=False, align="center")
        self._job = None
        self._cb = None

    def start(self) -> None:
        user = session_user(self.runtime)
        if user is None:
            self.status = "<span style='color:#c62828'>Log in again to export.</span>"
            return
        try:
            req = ExportRequest.model_validate({**self.request(), "format": self.format})
            self._job = self.runtime.exports.submit(user.user_id, req, visible_cameras(self.runtime, user))
        except (ValueError, ValidationError, KeyError) as exc:
            msg = exc.errors()[0]["msg"].removeprefix("Value error, ") if isinstance(exc, ValidationError) else exc
            self.status = f"<span style='color:#c62828'>Cannot export: {html.escape(str(msg))}</span>"
            return
        self.button.disabled, self.bar.visible, self.bar.value = True, True, 0
        self.status = "Export queued…"
        self._cb = every(self._poll, POLL_MS)

    def _poll(self) -> None:
        job = self._job
        if job is None:
            return
        self.bar.value = int(job.progress * 100)
        if job.status in ("queued", "running"):
            self.status = f"Exporting… {job.progress:.0%}"
            return
        if self._cb is not None:
            self._cb.stop()
        self.button.disabled, self.bar.visible = False, False
        info = job.public()
        if job.status == "done":
            size = (info["size_bytes"] or 0) / 1e6
            self.status = (f"<a href='{info['download_url']}' download>Download {html.escape(info['filename'])}</a>"
                           f" ({size:.1f} MB)")
        else:
            self.status = f"<span style='color:#c62828'>Export failed: {html.escape(job.error or '')}</span>"

    def __panel__(self):
        return pn.Column(pn.Row(self.picker, self.button, self.bar),
                         pn.pane.HTML(self.param.status, sizing_mode="stretch_width"))
