"""The Storage page: usage per folder and per camera (bar charts), usage over time (line chart from
storage samples), the disk, the retention policy in force, and a cleanup pass with a dry-run preview;
for admins, the state of the integrations (MQTT broker connected or unreachable)."""

from __future__ import annotations

import pandas as pd
import panel as pn
from bokeh.models import NumeralTickFormatter
from bokeh.palettes import Category10

from app.views.charts import holoviews, name_source, stream_pane
from app.views.integrations import IntegrationStatus
from app.views.session import can, session_user, viewer_zone, visible_cameras, when_zone_known
from app.views.shell import page
from app.views.text import md_escape
from thermalstream.notifications import chart_time, format_local, zone_label
from thermalstream.runtime import Runtime
from thermalstream.storage import CATEGORIES, list_samples, usage
from thermalstream.storage.growth import growth
from thermalstream.storage.media import archive_usage
from thermalstream.storage.usage import visible_usage

PREVIEW_COLUMNS = ["recording", "camera", "segment", "started", "ended", "size", "reason"]
NUMBER = NumeralTickFormatter(format="0.[00]")  # the y axes' numbers, in the unit their label names


def _size(n: float | None) -> str:
    n = n or 0
    if n >= 1e12:
        return f"{n / 1e12:.2f} TB"
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def _unit(max_bytes: float) -> tuple[float, str]:
    for div, name in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB")):
        if max_bytes >= div:
            return div, name
    return 1e3, "kB"


def bar_chart(title: str, data: pd.DataFrame, color: str, name: str):
    """Bytes per ``label`` as bars (hvPlot), in the unit of the largest (kB … TB), each size in the hover;
    ``name``: its data source's."""
    import hvplot.pandas  # noqa: F401

    div, unit = _unit(max(data["bytes"], default=0))
    if not len(data):
        data = pd.DataFrame({"label": ["(none)"], "bytes": [0]})
    df = data.assign(value=data["bytes"] / div, text=[_size(v) for v in data["bytes"]])
    return df.hvplot.bar(x="label", y="value", color=color, hover_cols=["text"], title=title, xlabel="",
                         ylabel=unit, height=260, responsive=True, ylim=(0, None), yformatter=NUMBER).opts(
        toolbar=None, framewise=True, show_grid=True, gridstyle={"xgrid_line_color": None},
        hover_tooltips=[("", "@label"), ("size", "@text")], hooks=[name_source(name)])


def bars_frame(labels: list[str], values: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"label": labels, "bytes": values})


def history_frame(samples: list[dict], tz: str | None) -> pd.DataFrame:
    """The totals per category (rows about no one camera), times in the viewer's zone."""
    rows = [s for s in samples if s["category"] in CATEGORIES and s["camera_id"] is None]
    return pd.DataFrame({"time": pd.to_datetime([chart_time(s["timestamp"], tz) for s in rows]),
                         "category": [s["category"] for s in rows], "bytes": [s["bytes"] for s in rows]})


def history_chart(data: pd.DataFrame, tz: str | None):
    """One line with markers per category (hvPlot), bytes against time in the viewer's time zone."""
    import hvplot.pandas  # noqa: F401

    div, unit = _unit(max(data["bytes"], default=0))
    data = data.assign(value=data["bytes"] / div, text=[_size(v) for v in data["bytes"]])
    lines = []
    for cat, color in zip(CATEGORIES, Category10[4], strict=True):
        d = data[data["category"] == cat]
        style = {"x": "time", "y": "value", "label": cat, "color": color, "hover_cols": ["text"], "height": 280,
                 "responsive": True, "hover_tooltips": [("time", "@time{%F %T}"), ("size", "@text")]}  # datetime: inferred
        lines += [d.hvplot.line(line_width=2, **style).opts(hooks=[name_source(f"ts-storage-{cat}")]),
                  d.hvplot.scatter(size=4, **style)]
    return holoviews().Overlay(lines).opts(
        title=f"Usage over time ({zone_label(tz)})", xlabel="", ylabel=unit, ylim=(0, None), yformatter=NUMBER,
        toolbar="above", legend_position="top_left", legend_opts={"click_policy": "hide"}, framewise=True)


class StoragePage(pn.viewable.Viewer):
    def __init__(self, runtime: Runtime, **params) -> None:
        super().__init__(**params)
        self.runtime = runtime
        pipe = holoviews().streams.Pipe
        self.categories = pipe(data=bars_frame([], []))  # the charts' data, sent on each refresh
        self.cameras = pipe(data=bars_frame([], []))
        self.samples = pipe(data=history_frame([], None))
        self.by_category = stream_pane(lambda data: bar_chart("Usage per folder", data, "#e8532f",
                                                              "ts-storage-folders"), self.categories, min_width=300)
        self.by_camera = stream_pane(lambda data: bar_chart("Usage per camera", data, "#1565c0",
                                                            "ts-storage-cameras"), self.cameras, min_width=300)
        self.history = stream_pane(lambda data: history_chart(data, self._tz()), self.samples)
        self.history_note = pn.pane.Markdown("")
        self.totals = pn.pane.Markdown("")
        self.disk_bar = pn.indicators.Progress(value=0, max=100, width=320, bar_color="primary")
        self.disk_text = pn.pane.Markdown("")
        self.growth = pn.pane.Markdown("")
        self.policy = pn.pane.Markdown("")
        self.last = pn.pane.Markdown("")
        self.unmet = pn.pane.Alert("", alert_type="warning", visible=False, sizing_mode="stretch_width")
        self.alert = pn.pane.Alert("", alert_type="info", visible=False, sizing_mode="stretch_width")
        self.integrations = IntegrationStatus(runtime)  # admins: MQTT connected / unreachable, live
        self.refresh_btn = pn.widgets.Button(label="Refresh", width=90)
        self.sample_btn = pn.widgets.Button(label="Take a sample now", width=160)
        self.preview_btn = pn.widgets.Button(label="Preview cleanup (dry run)", width=210,  # lists every camera's
                                             visible=can(session_user(runtime), "admin"))  # segments: admins only
        self.run_btn = pn.widgets.Button(label="Run cleanup now", color="danger", width=160,
                                         visible=can(session_user(runtime), "admin"))
        self.preview = pn.widgets.Tabulator(pd.DataFrame(columns=PREVIEW_COLUMNS), disabled=True, show_index=False,
                                            sizing_mode="stretch_width", height=260, pagination="local",
                                            page_size=20, visible=False)
        self.refresh_btn.on_click(lambda e: self.refresh())
        self.sample_btn.on_click(lambda e: self._sample())
        self.preview_btn.on_click(lambda e: self._preview())
        self.run_btn.on_click(lambda e: self._run())
        when_zone_known(self.refresh)
        self.refresh()

    def _tz(self) -> str | None:
        return viewer_zone()

    def _visible(self) -> set[int] | None:
        return visible_cameras(self.runtime, session_user(self.runtime))

    def _names(self) -> dict[int, str]:
        return {c["id"]: c["name"] for c in self.runtime.cameras.list(self._visible())}

    def refresh(self) -> None:
        tz = self._tz()
        snap = visible_usage(usage(self.runtime.settings), self._visible())
        names = self._names()
        cats = snap["categories"]
        self.categories.send(bars_frame(list(CATEGORIES), [cats.get(c, {}).get("bytes", 0) for c in CATEGORIES]))
        cams = snap["cameras"]
        labels = [names.get(int(k), f"camera {k}") for k in cams]
        self.cameras.send(bars_frame(labels, [v["bytes"] for v in cams.values()]))
        archived = []
        if can(session_user(self.runtime), "admin"):  # files of deleted cameras: admins only
            a = archive_usage(self.runtime.settings.archive_dir)
            archived = [f"deleted cameras' files (`archive/`, never deleted by retention): {_size(a['bytes'])} · "
                        f"{a['files']} file(s) of {a['cameras']} camera(s)"]
        self.totals.object = "  \n".join(
            [f"**Total** {_size(snap['total']['bytes'])} in {snap['total']['files']} file(s)"]
            + [f"{c}: {_size(cats[c]['bytes'])} · {cats[c]['files']} file(s) · `{cats[c]['path']}`" for c in cats]
            + archived)
        disk = snap["disk"]
        used_pct = round(100 * disk["used"] / disk["total"]) if disk["total"] else 0
        self.disk_bar.value = used_pct
        self.disk_bar.bar_color = "danger" if used_pct >= 90 else "warning" if used_pct >= 75 else "primary"
        self.disk_text.object = (f"**Disk** {_size(disk['free'])} free of {_size(disk['total'])} "
                                 f"({used_pct}% used)")
        samples = list_samples(self.runtime.db, camera_id=None, visible=self._visible())
        self.samples.send(history_frame(samples, tz))
        every = self.runtime.settings.storage_sample_interval_s
        self.history_note.object = (f"{len(samples)} sample row(s); a sample is taken every {every} s."
                                    if samples else f"No samples yet: one is taken every {every} s "
                                    "(or press “Take a sample now”).")
        self.growth.object = growth_text(growth(self.runtime.db, self.runtime.cleanup.policy,
                                                visible=self._visible()), names)
        self._show_policy()

    def _show_policy(self) -> None:
        job = self.runtime.cleanup
        p = job.policy

        def lim(v, unit):
            return f"{v:g} {unit}" if v is not None else "no limit"

        self.policy.object = (
            "#### Retention policy in force\n"
            f"* Maximum age: {lim(p.max_age_days, 'days')}\n"
            f"* Maximum total size: {lim(p.max_total_gb, 'GB')}\n"
            f"* Free-disk reserve: {lim(p.min_free_gb, 'GB')}\n"
            f"* Oldest unprotected segments go first; protected recordings are never deleted\n"
            f"* Automatic pass every {self.runtime.settings.cleanup_interval_s} s"
            + ("" if p.active else "\n\n**No limit is set: cleanup deletes nothing.**"))
        self.last.object = self._last_text(job.last_result)
        unmet = job.warnings()
        self.unmet.object = "**Retention limit not met.** " + " ".join(unmet.values()) if unmet else ""
        self.unmet.visible = bool(unmet)

    def _last_text(self, last: dict | None) -> str:
        if not last:
            return "No cleanup pass has run since the server started."
        res = last.get("result")
        plan = last.get("plan")
        if res:
            text = (f"Last pass deleted {res['deleted_segments']} segment(s), freed {_size(res['freed_bytes'])}, "
                    f"removed {len(res['recordings_deleted'])} recording(s).")
            if res.get("refused"):
                text += f" {len(res['refused'])} path(s) outside the recordings folder were refused."
        elif plan is not None:
            text = "Last pass found nothing to delete."
        else:
            text = "Last pass: no retention limit is set."
        if plan and plan.get("unsatisfied"):
            text += " Unmet: " + " ".join(plan["unsatisfied"].values())
        return text

    def _sample(self) -> None:
        self.runtime.sample_storage()
        self.refresh()

    def _plan_frame(self, plan: dict | None) -> pd.DataFrame:
        tz, names = self._tz(), self._names()
        rows = (plan or {}).get("delete", [])
        return pd.DataFrame([{
            "recording": s["recording_id"],
            "camera": names.get(s["camera_id"], str(s["camera_id"])),
            "segment": s["path"],
            "started": format_local(s["started_at"], tz),
            "ended": format_local(s["ended_at"], tz),
            "size": _size(s["size_bytes"]),
            "reason": s.get("reason") or "",
        } for s in rows], columns=PREVIEW_COLUMNS)

    def _show(self, kind: str, text: str) -> None:
        self.alert.alert_type = kind
        self.alert.object = md_escape(text)
        self.alert.visible = True

    def _preview(self) -> None:
        if not can(session_user(self.runtime), "admin"):  # like POST /api/storage/cleanup
            self._show("danger", "Previewing retention needs the admin role.")
            return
        job = self.runtime.cleanup
        if not job.policy.active:
            self._show("warning", "No retention limit is set: a cleanup pass would delete nothing.")
            self.preview.visible = False
            return
        try:
            plan = job.plan().to_dict()
        except Exception as exc:  # noqa: BLE001 - shown, never a broken page
            self._show("danger", f"Could not plan a cleanup: {exc}")
            return
        self.preview.value = self._plan_frame(plan)
        self.preview.visible = True
        n = plan["segments"]
        text = (f"Dry run: a pass now would delete {n} segment(s), {_size(plan['bytes'])}." if n
                else "Dry run: nothing would be deleted now.")
        if plan["unsatisfied"]:
            text += " " + " ".join(plan["unsatisfied"].values())
        self._show("info", text)

    def _run(self) -> None:
        if not can(session_user(self.runtime), "admin"):  # checked on every action, not only in the UI
            self._show("danger", "Running retention needs the admin role.")
            return
        out = self.runtime.cleanup.run()
        if "skipped" in out:
            self._show("warning", out["skipped"].capitalize() + ".")
        elif "error" in out:
            self._show("danger", f"Cleanup failed: {out['error']}")
        else:
            self.preview.value = self._plan_frame(out.get("plan"))
            self.preview.visible = bool(out.get("plan"))
            self._show("success", self._last_text(out))
        self.refresh()

    def __panel__(self):
        return pn.Column(
            pn.Row(self.refresh_btn, self.sample_btn),
            pn.Row(self.by_category, self.by_camera, sizing_mode="stretch_width"),
            self.totals,
            pn.Row(self.disk_bar, self.disk_text),
            self.integrations,
            self.growth,
            self.history,
            self.history_note,
            self.unmet,
            self.policy,
            self.last,
            pn.Row(self.preview_btn, self.run_btn),
            self.alert,
            self.preview,
            sizing_mode="stretch_width",
        )


def _days(d: float | None) -> str:
    return "—" if d is None else f"{d * 24:.1f} hours" if d < 2 else f"{d:.0f} days"


def growth_text(g: dict, names: dict[int, str]) -> str:
    """Growth per camera and the time left, as Markdown (camera names escaped)."""
    if not g["cameras"]:
        return (f"**Growth**: not known yet (it needs two storage samples within {g['window_h']:.0f} h "
                "while something records).")
    per = " · ".join(f"{md_escape(names.get(c, f'camera {c}'))} {_size(r)}/day" for c, r in g["cameras"].items())
    return (f"**Growth** over the last {g['window_h']:.0f} h: {_size(g['total_per_day'])}/day ({per})  \n"
            f"Disk full (keeping the free-space reserve) in **{_days(g['days_to_disk_full'])}** · "
            f"retention size limit reached in **{_days(g['days_to_size_limit'])}**")


def storage_page(runtime: Runtime):
    return page(runtime, "storage", "Storage", StoragePage(runtime))
