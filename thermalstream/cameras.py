"""Camera service: saved cameras (database) joined to running ones (capture manager), with notifications."""

from __future__ import annotations

import logging
from typing import Any

from thermalstream.bus import Event
from thermalstream.camera_files import CameraFiles, in_media_folder, media_file, probe_file
from thermalstream.capture.manager import CameraManager
from thermalstream.connection_alerts import ConnectionAlerts
from thermalstream.db import Database, repo
from thermalstream.db.outage import log_failure
from thermalstream.frame import Frame
from thermalstream.notifications import NotificationService
from thermalstream.palettes import PALETTES
from thermalstream.radiometry import RadiometricSource, RadiometrySettings, summary
from thermalstream.sharing import ROLE_ORDER, CameraNotFound, CameraSharing, ShareError  # noqa: F401
from thermalstream.sources import make_source
from thermalstream.sources.url import CameraURL, CameraURLError, parse_camera_url
from thermalstream.workers.inprocess import InProcessBackend
from thermalstream.workers.protocol import Backend, CameraAssignment

log = logging.getLogger(__name__)
DEFAULT_PALETTE = "inferno"


class CameraConflict(Exception):
    """The request clashes with the camera's state (already connected, duplicate URL…)."""


class CameraService(CameraFiles, CameraSharing):
    """Saved cameras joined to running ones; visibility and sharing come from :class:`CameraSharing`,
    deleting a camera and its files from :class:`CameraFiles`."""

    def __init__(self, db: Database, manager: CameraManager, notifications: NotificationService,
                 settings: Any = None, workers: Backend | None = None) -> None:
        self.db = db
        self.workers = workers or InProcessBackend(manager, self._source_factory)  # where cameras run
        self.settings = settings  # media folder for file sources, storage roots for a deleted camera's files
        self.manager = manager
        self.notes = notifications
        self._palettes: dict[int, str] = {}
        self._radiometry: dict[int, RadiometrySettings] = {}
        self._alerts = ConnectionAlerts(notifications)
        self._connecting: dict[int, str] = {}  # id -> name: "Camera connected" once it is live, not before
        manager.bus.subscribe(self._on_status, "camera.status")

    # ----- queries
    def list(self, visible: set[int] | None = None) -> list[dict[str, Any]]:
        """Every camera, or only the ids in ``visible`` (see :meth:`visible_ids`)."""
        with self.db.session() as s:
            rows = [repo.public_dict(c) for c in repo.list_cameras(s) if visible is None or c.id in visible]
        return [self._merge(r) for r in rows]

    def get(self, camera_id: int) -> dict[str, Any]:
        with self.db.session() as s:
            cam = repo.get_camera(s, camera_id)
            if cam is None:
                raise CameraNotFound(f"no camera {camera_id}")
            return self._merge(repo.public_dict(cam))

    def palette(self, camera_id: int) -> str:
        return self._palettes.get(camera_id, DEFAULT_PALETTE)

    def with_live(self, row: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``row`` (from :meth:`list`/:meth:`get`) with its live part (status, fps, temperature
        range) read again from memory: no database query, for pages that refresh those every second."""
        return self._merge(dict(row))

    def _merge(self, row: dict[str, Any]) -> dict[str, Any]:
        live = self.manager.get(row["id"])
        if live is None:
            row.update(connected=False, reason=row.get("status_reason") or "", fps=0.0, frames=0, dropped=0,
                       last_frame_age=None, reconnects=0, temperature=None, temperature_unit=None)
            return row
        d = live.describe()
        frame = live.latest()
        remote = getattr(live, "summary", None)  # a camera on a worker process: what its worker reported
        temperature, unit = remote() if remote else (_temperature(frame), summary(frame)["temperature_unit"])
        row.update(connected=True, status=d["status"], reason=d["reason"], fps=d["fps"], frames=d["frames"],
                   dropped=d["dropped"], last_frame_age=d["last_frame_age"], reconnects=d["reconnects"],
                   radiometric=d["radiometric"] or row["radiometric"],
                   width=d["width"] or row["width"], height=d["height"] or row["height"],
                   temperature=temperature, temperature_unit=unit)
        return row

    # ----- commands
    def connect(self, url: str, name: str = "", settings: dict[str, Any] | None = None, *,
                owner_id: int | None = None, any_file: bool = False) -> dict[str, Any]:
        """Validate, save and start a new camera owned by ``owner_id``. Files must lie in the media
        folder unless ``any_file`` (admins). Raises CameraURLError (bad URL or file) or CameraConflict."""
        cu = parse_camera_url(url, must_exist=any_file)
        if cu.is_file and not any_file:
            cu = parse_camera_url(in_media_folder(cu, self._media_root()), must_exist=False)
        if cu.is_file:
            if not any_file:
                media_file(cu, self._media_root())
            probe_file(cu)
        settings = dict(settings or {})
        palette = settings.setdefault("palette", DEFAULT_PALETTE)
        if palette not in PALETTES:
            raise CameraURLError(f"unknown palette {palette!r}")
        with self.db.session() as s:
            if any(c.url == cu.raw for c in repo.list_cameras(s)):
                raise CameraConflict(f"a camera with URL {cu.masked} is already saved")
            row = repo.add_camera(s, name or _default_name(cu), cu.raw, kind=cu.kind, owner_id=owner_id,
                                  worker_id=self.manager.worker_id, settings=settings)
            cid, cname = row.id, row.name
        self._start_announced(cid, cu, cname, settings, f"{cname} ({cu.masked})")
        self.manager.bus.publish("camera.added", {"camera_id": cid})
        return self.get(cid)

    def start_enabled(self) -> None:
        """Start every enabled camera this worker owns (or nobody owns yet)."""
        with self.db.session() as s:
            rows = [(c.id, c.url, c.name, dict(c.settings or {}), c.worker_id) for c in repo.list_cameras(s, enabled=True)]
        for cid, url, name, settings, worker in rows:
            if worker not in (None, self.manager.worker_id) and not _same_host(worker, self.manager.worker_id):
                continue
            if cid in self.manager:
                continue
            try:
                self._start(cid, parse_camera_url(url, must_exist=False), name, settings)
            except CameraURLError as exc:
                self._save_status(cid, "failed", str(exc))

    def disconnect(self, camera_id: int) -> dict[str, Any]:
        """Stop capture but keep the camera saved (disabled)."""
        cam = self.get(camera_id)
        if camera_id not in self.manager:
            raise CameraConflict(f"camera {camera_id} is not connected")
        self.manager.remove(camera_id)
        self.manager.bus.publish("camera.removed", {"camera_id": camera_id})
        with self.db.session() as s:
            repo.update_camera(s, camera_id, enabled=False)
            repo.update_camera_status(s, camera_id, "stopped", None)
        self.notes.info("Camera disconnected", cam["name"], data={"camera_id": camera_id})
        return self.get(camera_id)

    def reconnect(self, camera_id: int) -> dict[str, Any]:
        """Start a saved camera again."""
        if camera_id in self.manager:
            raise CameraConflict(f"camera {camera_id} is already connected")
        with self.db.session() as s:
            row = repo.get_camera(s, camera_id)
            if row is None:
                raise CameraNotFound(f"no camera {camera_id}")
            url, name, settings = row.url, row.name, dict(row.settings or {})
            repo.update_camera(s, camera_id, enabled=True, worker_id=self.manager.worker_id)
        self._start_announced(camera_id, parse_camera_url(url), name, settings, name)
        return self.get(camera_id)

    def update(self, camera_id: int, *, name: str | None = None, palette: str | None = None) -> dict[str, Any]:
        """Rename a camera or change its palette (applies to live viewers at once)."""
        if palette is not None and palette not in PALETTES:
            raise CameraURLError(f"unknown palette {palette!r}; choose one of {', '.join(PALETTES)}")
        if name is not None and not (0 < len(name.strip()) <= 128):
            raise CameraURLError("name must be 1 to 128 characters")
        with self.db.session() as s:
            row = repo.get_camera(s, camera_id)
            if row is None:
                raise CameraNotFound(f"no camera {camera_id}")
            fields: dict[str, Any] = {}
            if name is not None:
                fields["name"] = name.strip()
            if palette is not None:
                fields["settings"] = {**(row.settings or {}), "palette": palette}
            if fields:
                repo.update_camera(s, camera_id, **fields)
        if palette is not None:
            self._palettes[camera_id] = palette
            self._tell(camera_id, "palette", {"palette": palette})
        live = self.manager.get(camera_id)
        if live is not None and name is not None:
            live.name = name.strip()
            self._tell(camera_id, "rename", {"name": live.name})
        self.manager.bus.publish("camera.changed", {"camera_id": camera_id})
        return self.get(camera_id)

    def temperature_at(self, camera_id: int, x: float, y: float) -> tuple[float, str] | None:
        """(value, unit) at pixel (x, y) of the camera's newest frame: unit "°C", or "counts" for an
        uncalibrated sensor; None for picture-only sources. Raises CameraNotFound when the camera
        is not connected, ValueError outside the frame."""
        live = self.manager.get(camera_id)
        if live is None:
            raise CameraNotFound(f"camera {camera_id} is not connected")
        if getattr(live, "remote", False):  # the frame is on the camera's worker
            found = self.workers.command(camera_id, "temperature", {"x": x, "y": y}, timeout=5.0)
            return None if found is None else (found[0], found[1])
        return spot_temperature(live.latest(), x, y)

    def radiometry(self, camera_id: int) -> dict[str, Any]:
        """The camera's stored object parameters and calibration, and what its newest frame says
        (unit, whether calibrated, how)."""
        with self.db.session() as s:
            row = repo.get_camera(s, camera_id)
            if row is None:
                raise CameraNotFound(f"no camera {camera_id}")
            stored = RadiometrySettings.model_validate(row.radiometry or {})
        live = self.manager.get(camera_id)
        frame = live.latest() if live is not None else None
        extra = frame.radiometry.extra if frame is not None and frame.radiometry else {}
        return {"camera_id": camera_id, "settings": stored.model_dump(), **summary(frame),
                "source_unit": extra.get("source_unit") or summary(frame)["temperature_unit"]}

    def set_radiometry(self, camera_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        """Merge ``changes`` (None resets a field to the source's own value) into the camera's
        settings; they apply from the next frame. Raises pydantic.ValidationError on bad values,
        CameraURLError when a calibration is given to a camera that already gives °C."""
        current = self.radiometry(camera_id)
        new = RadiometrySettings.model_validate({**current["settings"], **changes}, strict=True)  # no "0.5", no true
        if new.calibration is not None and current["source_unit"] == "°C":
            raise CameraURLError("a calibration applies to sources that give counts; this camera gives °C")
        with self.db.session() as s:
            row = repo.get_camera(s, camera_id)
            if row is None:
                raise CameraNotFound(f"no camera {camera_id}")
            row.radiometry = None if new.is_empty() else new.model_dump(exclude_none=True)
        self._radiometry[camera_id] = new
        self._tell(camera_id, "radiometry", {"radiometry": new.model_dump(exclude_none=True)})
        self.manager.bus.publish("camera.changed", {"camera_id": camera_id})
        return self.radiometry(camera_id)

    # ----- internals
    def _start(self, cid: int, cu: CameraURL, name: str, settings: dict[str, Any]) -> None:
        self._palettes[cid] = settings.get("palette", DEFAULT_PALETTE)
        with self.db.session() as s:
            row = repo.get_camera(s, cid)
            self._radiometry[cid] = RadiometrySettings.model_validate((row.radiometry if row else None) or {})
            settings = dict((row.settings if row else None) or settings)
        self.workers.assign(CameraAssignment(cid, cu.raw, name, settings,
                                             self._radiometry[cid].model_dump(exclude_none=True)))

    def _source_factory(self, camera: CameraAssignment):
        """In-process sources read the camera's radiometry settings on every frame."""
        return lambda url, c=camera.camera_id: RadiometricSource(make_source(url), lambda: self._radiometry.get(c))

    def _tell(self, camera_id: int, command: str, args: dict[str, Any]) -> None:
        """A setting changed: the camera's worker applies it from its next frame."""
        try:
            self.workers.command(camera_id, command, args)
        except LookupError:
            pass  # not running anywhere: it starts with the saved settings

    def _start_announced(self, cid: int, cu: CameraURL, name: str, settings: dict[str, Any], label: str) -> None:
        """Start a camera the user just connected: "Camera connecting" now, "Camera connected" when it
        is live, or "Camera failed" (never a "connected" before the first frame)."""
        self._connecting[cid] = label
        self.notes.info("Camera connecting", label, data={"camera_id": cid})
        try:
            self._start(cid, cu, name, settings)
        except Exception:
            self._connecting.pop(cid, None)
            raise

    def _on_status(self, event: Event) -> None:
        cid, status, reason = event.data["camera_id"], event.data["status"], event.data.get("reason") or None
        if not isinstance(cid, int):
            return
        self._save_status(cid, status, reason)
        cam = self.manager.get(cid)
        name = cam.name if cam else str(cid)
        if status in ("live", "failed", "stopped") and cid in self._connecting:
            label = self._connecting.pop(cid)
            if status == "live":
                self.notes.success("Camera connected", label, data={"camera_id": cid})
        if status == "failed":
            self.notes.error("Camera failed", f"{name}: {reason}", data={"camera_id": cid})
        elif status == "reconnecting" and cam is not None and cam.stats().frames > 0:
            self._alerts.lost(cid, name, reason or "connection lost")  # once per outage, flapping coalesced
        elif status == "live":
            self._alerts.back(cid, name)
        elif status == "stopped" and cam is None:
            self._alerts.forget(cid)

    def _save_status(self, cid: int, status: str, reason: str | None) -> None:
        try:
            with self.db.session() as s:
                repo.update_camera_status(s, cid, status, reason)
        except Exception:  # noqa: BLE001 - a database hiccup must not stop capture
            log_failure(log, "could not save status of camera %s", cid)


def spot_temperature(frame: Frame | None, x: float, y: float) -> tuple[float, str] | None:
    """(value rounded to 0.01, unit "°C" or "counts") at pixel (x, y); None without measurements."""
    if frame is None or frame.temperature_unit is None:
        return None
    h, w = frame.shape
    xi, yi = int(x), int(y)
    if not (0 <= xi < w and 0 <= yi < h):
        raise ValueError(f"({x}, {y}) is outside the {w}x{h} frame")
    return round(frame.value_at(xi, yi), 2), frame.temperature_unit


def _temperature(frame: Frame | None) -> dict[str, Any] | None:
    """Min/mean/max of a radiometric frame in its unit (``unit``: "°C" or "counts"); None for
    picture-only sources."""
    c = None if frame is None else frame.measurement()
    if c is None:
        return None
    return {"min": round(float(c.min()), 2), "mean": round(float(c.mean()), 2), "max": round(float(c.max()), 2),
            "unit": frame.temperature_unit}


def _default_name(cu: CameraURL) -> str:
    if cu.kind == "sim":
        return "Simulated thermal camera"
    if cu.path is not None:
        return cu.path.name
    return cu.masked[:128]


def _same_host(a: str, b: str) -> bool:
    """A camera saved by an earlier run of this server on the same host belongs to us now."""
    return a.split(":", 1)[0] == b.split(":", 1)[0]
