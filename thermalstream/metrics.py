"""Prometheus metrics of one :class:`~thermalstream.runtime.Runtime`, read when scraped: nothing is
counted per frame here, every value comes from counters the parts keep anyway.

>>> text = metrics_text(runtime)   # the exposition format GET /metrics serves

Cameras (running ones): up, fps, frames, drops, reconnects, last-frame age. Detector: state, calls,
frames, errors, latency (sum and count), last inference per camera. Queues: detection store, each
recorder, notifications kept during an outage. Recordings: bytes and segments per camera, active
ones. Disk: free and total bytes of the recordings folder. Database: up, errors, outages.

With cameras on workers (processes, Ray) the same names and labels carry the workers' figures:
each worker's periodic stats bring its detector's counters, its queues and its cameras' counters
(``workers.remote.WorkerCounters``); counters go on across a worker's death and a camera's move.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import func, select

from thermalstream.db.models import Recording

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST
CAM = ["camera_id", "camera"]


def _family(kind: type, name: str, doc: str, labels: list[str] | None = None, unit: str = "") -> Metric:
    return kind(f"thermalstream_{name}", doc, labels=labels or [], unit=unit)


class RuntimeCollector:
    """A prometheus_client collector over a runtime's parts."""

    def __init__(self, runtime: Any) -> None:
        self.rt = runtime

    def collect(self) -> Iterator[Metric]:
        for part in (self._cameras, self._detector, self._queues, self._recordings, self._disk, self._database):
            try:
                yield from part()
            except Exception:  # noqa: BLE001 - one broken part must not hide the others
                log.debug("metrics: %s failed", part.__name__, exc_info=True)

    def _cameras(self) -> Iterator[Metric]:
        up = _family(GaugeMetricFamily, "camera_up", "1 while the camera is live", CAM)
        fps = _family(GaugeMetricFamily, "camera_fps", "Frames per second over the last seconds", CAM)
        frames = _family(CounterMetricFamily, "camera_frames", "Frames captured since it started", CAM)
        drops = _family(CounterMetricFamily, "camera_dropped_frames", "Frames dropped by full consumer queues", CAM)
        reconnects = _family(CounterMetricFamily, "camera_reconnects", "Reconnections since it started", CAM)
        age = _family(GaugeMetricFamily, "camera_last_frame_age", "Seconds since the newest frame", CAM, "seconds")
        for cam in self.rt.manager.cameras():
            labels = [str(cam.id), cam.name]
            st = cam.stats()
            up.add_metric(labels, 1.0 if cam.status.value == "live" else 0.0)
            fps.add_metric(labels, st.fps)
            frames.add_metric(labels, st.frames)
            drops.add_metric(labels, st.dropped)
            reconnects.add_metric(labels, st.reconnects)
            if st.last_frame_age is not None:
                age.add_metric(labels, st.last_frame_age)
        yield from (up, fps, frames, drops, reconnects, age)

    def _names(self) -> dict[int, str]:
        return {cam.id: cam.name for cam in self.rt.manager.cameras()}

    def _detector(self) -> Iterator[Metric]:
        det = self.rt.detection
        status = det.detector_status()
        ready = _family(GaugeMetricFamily, "detector_ready", "1 when the detector can detect", ["state", "model"])
        ready.add_metric([status.state, status.model or ""], 1.0 if status.state == "ready" else 0.0)
        stats = det.worker_stats()  # with workers: summed over them, as their stats brought them
        calls = _family(CounterMetricFamily, "detector_calls", "Detector calls (a call may hold several frames)")
        calls.add_metric([], stats["calls"])
        frames = _family(CounterMetricFamily, "detector_frames", "Frames the detector has looked at")
        frames.add_metric([], stats["frames"])
        errors = _family(CounterMetricFamily, "detector_errors", "Detector calls that raised")
        errors.add_metric([], stats["errors"])
        latency = _family(SummaryMetricFamily, "detector_latency", "Time inside the detector per call", unit="seconds")
        latency.add_metric([], count_value=stats["calls"], sum_value=stats.get("busy_s", 0.0))
        last = _family(GaugeMetricFamily, "detector_last_inference", "Latest detector call for the camera",
                       CAM, "seconds")
        names = self._names()
        for cid, slot in stats["cameras"].items():
            if slot.get("last_inference_ms") is not None:
                last.add_metric([cid, names.get(int(cid), cid)], slot["last_inference_ms"] / 1000.0)
        yield from (ready, calls, frames, errors, latency, last)

    def _queues(self) -> Iterator[Metric]:
        depth = _family(GaugeMetricFamily, "queue_depth", "Items waiting in a queue", ["queue", *CAM])
        hub = self.rt.workers.hub  # cameras on workers: their queues count too
        from_workers = hub.counters.gauge if hub is not None else (lambda _key: 0)
        depth.add_metric(["detection_store", "", ""],
                         self.rt.detection.store.pending() + from_workers("store_pending"))
        depth.add_metric(["notifications_unsaved", "", ""],
                         len(self.rt.notifications.pending) + from_workers("notifications_unsaved"))
        names = self._names()
        for cid, st in self.rt.recordings.recorder_stats().items():
            depth.add_metric(["recorder", str(cid), names.get(cid, str(cid))], st.get("queued", 0))
        yield depth

    def _recordings(self) -> Iterator[Metric]:
        active = _family(GaugeMetricFamily, "recording_active", "1 while the camera records", CAM)
        dropped = _family(GaugeMetricFamily, "recording_dropped_frames", "Frames the running recording dropped", CAM)
        names = self._names()
        for cid, st in self.rt.recordings.recorder_stats().items():
            active.add_metric([str(cid), names.get(cid, str(cid))], 1.0)
            dropped.add_metric([str(cid), names.get(cid, str(cid))], st.get("dropped", 0))
        yield from (active, dropped)
        with self.rt.db.session() as s:  # kept recordings, as retention leaves them
            rows = s.execute(select(Recording.camera_id, func.coalesce(func.sum(Recording.size_bytes), 0),
                                    func.coalesce(func.sum(Recording.segments), 0))
                             .group_by(Recording.camera_id)).all()
        size = _family(GaugeMetricFamily, "recording_size", "Bytes of the camera's kept recordings", CAM, "bytes")
        segs = _family(GaugeMetricFamily, "recording_segments", "Segments of the camera's kept recordings", CAM)
        for cid, nbytes, nsegs in rows:
            labels = [str(cid), names.get(cid, str(cid))]
            size.add_metric(labels, float(nbytes))
            segs.add_metric(labels, float(nsegs))
        yield from (size, segs)

    def _disk(self) -> Iterator[Metric]:
        folder = self.rt.settings.recordings_dir
        usage = shutil.disk_usage(folder if folder.exists() else self.rt.settings.data_dir)
        free = _family(GaugeMetricFamily, "disk_free", "Free space where recordings are written", unit="bytes")
        free.add_metric([], usage.free)
        total = _family(GaugeMetricFamily, "disk_total", "Size of the disk recordings are written to", unit="bytes")
        total.add_metric([], usage.total)
        yield from (free, total)

    def _database(self) -> Iterator[Metric]:
        state = self.rt.db.outage.state()
        up = _family(GaugeMetricFamily, "database_up", "1 unless the database is unreachable or its disk full")
        up.add_metric([], 1.0 if state["ok"] else 0.0)
        errors = _family(CounterMetricFamily, "database_errors", "Database sessions that failed with an error")
        errors.add_metric([], state.get("errors", 0))
        outages = _family(CounterMetricFamily, "database_outages", "Database outages since start")
        outages.add_metric([], state["outages"])
        yield from (up, errors, outages)


def metrics_text(runtime: Any) -> bytes:
    """The runtime's metrics in Prometheus' text exposition format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RuntimeCollector(runtime))
    return generate_latest(registry)
