"""Track IDs: the same object keeps the same ``track_id`` from frame to frame.

``Tracker.update(detections, timestamp) -> list[Detection]`` takes one frame's detections and
returns the tracked ones with ``track_id`` set (new ``Detection`` objects; the input is not
changed). Detections that do not (yet) belong to a confirmed track are left out, so a single
low-confidence blip never becomes an event. Call ``update`` for every frame the detector ran on,
also with an empty list, so that tracks age.

Two implementations behind :func:`make_tracker`:

* :class:`ByteTrackTracker` wraps ultralytics' ``BYTETracker`` (Kalman filter, two-stage
  association of high- then low-confidence detections, Hungarian matching through ``lap``). It is
  used when ultralytics **and** ``lap`` are importable. We check for ``lap`` first, because
  ultralytics otherwise tries to pip-install it at import time, which must not happen offline.
* :class:`IoUTracker` (ours, numpy only): the same two-stage ByteTrack association, with a
  constant-velocity prediction in time (pixels per second, so it works at any detect rate and
  across skipped frames) instead of a Kalman filter, greedy matching by IoU (there are few objects
  per camera) and tracks kept ``max_age_s`` seconds after their last match. It keeps labels
  apart: a person track never continues as a car.

``make_tracker("auto")`` returns ByteTrack where it can and :class:`IoUTracker` otherwise;
``Tracker.kind`` says which one runs (the service reports it in its status).
"""

from __future__ import annotations

import abc
import importlib.util
import itertools
import logging
from dataclasses import dataclass, replace
from types import SimpleNamespace

import numpy as np

from thermalstream.detect.types import Box, Detection

log = logging.getLogger(__name__)


class Tracker(abc.ABC):
    kind: str = "tracker"

    @abc.abstractmethod
    def update(self, detections: list[Detection], timestamp: float) -> list[Detection]: ...

    def reset(self) -> None:  # pragma: no cover - trivial in subclasses
        pass


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` (N, 4 xyxy) with every box in ``b`` (M, 4)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)


def _xyxy(d: Detection) -> list[float]:
    return [d.box.x1, d.box.y1, d.box.x2, d.box.y2]


# --------------------------------------------------------------------------- our tracker


@dataclass
class _Track:
    id: int
    label: str
    box: np.ndarray  # xyxy at ``t``
    t: float
    velocity: np.ndarray  # d(centre)/dt, px/s (vx, vy)
    hits: int = 1
    confirmed: bool = False

    def predict(self, t: float) -> np.ndarray:
        """The box moved by the centre's velocity; size kept (edge-clipped boxes change size)."""
        dt = min(max(t - self.t, 0.0), 2.0)  # do not extrapolate far
        return self.box + np.tile(self.velocity, 2) * dt


class IoUTracker(Tracker):
    """ByteTrack-style association with IoU and constant-velocity prediction (numpy only).

    ``high``: detections at or above it are matched first and may start tracks;
    ``low``: detections between ``low`` and ``high`` only continue existing tracks;
    ``min_iou``: least IoU between a predicted track box and a detection to match;
    ``min_hits``: matches before a track is reported (1: at once);
    ``max_age_s``: a track unmatched this long is forgotten.
    """

    kind = "iou"

    def __init__(self, high: float = 0.5, low: float = 0.1, min_iou: float = 0.15, min_hits: int = 1,
                 max_age_s: float = 3.0, smoothing: float = 0.5) -> None:
        self.high, self.low, self.min_iou = high, low, min_iou
        self.min_hits, self.max_age_s, self.smoothing = min_hits, max_age_s, smoothing
        self._tracks: list[_Track] = []
        self._ids = itertools.count(1)

    def reset(self) -> None:
        self._tracks.clear()

    @property
    def tracks(self) -> int:
        return len(self._tracks)

    def _associate(self, tracks: list[_Track], dets: list[tuple[int, Detection]], t: float
                   ) -> tuple[list[tuple[_Track, int, Detection]], list[_Track], list[tuple[int, Detection]]]:
        if not tracks or not dets:
            return [], tracks, dets
        pred = np.array([tr.predict(t) for tr in tracks], np.float32)
        boxes = np.array([_xyxy(d) for _, d in dets], np.float32)
        iou = iou_matrix(pred, boxes)
        # fallback for fast or edge-clipped objects (IoU small): centres closer than half the larger
        # diagonal still match, ranked below every IoU match
        pc = (pred[:, None, :2] + pred[:, None, 2:]) / 2
        dc = (boxes[None, :, :2] + boxes[None, :, 2:]) / 2
        dist = np.linalg.norm(pc - dc, axis=2)
        diag_p = np.linalg.norm(pred[:, 2:] - pred[:, :2], axis=1)
        diag_d = np.linalg.norm(boxes[:, 2:] - boxes[:, :2], axis=1)
        gate = 0.5 * np.maximum(diag_p[:, None], diag_d[None, :])
        near = self.min_iou * 0.5 * np.clip(1.0 - dist / np.maximum(gate, 1e-6), 0.0, 1.0)
        score = np.where(iou >= self.min_iou, iou, np.maximum(near, 0.0))
        for i, tr in enumerate(tracks):  # labels never mix
            for j, (_, d) in enumerate(dets):
                if d.label != tr.label:
                    score[i, j] = 0.0
        matches = []
        used_t, used_d = set(), set()
        for flat in np.argsort(-score, axis=None):
            i, j = divmod(int(flat), score.shape[1])
            if score[i, j] <= 0.0:
                break
            if i in used_t or j in used_d:
                continue
            used_t.add(i)
            used_d.add(j)
            matches.append((tracks[i], dets[j][0], dets[j][1]))
        rest_t = [tr for i, tr in enumerate(tracks) if i not in used_t]
        rest_d = [dj for j, dj in enumerate(dets) if j not in used_d]
        return matches, rest_t, rest_d

    def update(self, detections: list[Detection], timestamp: float) -> list[Detection]:
        t = float(timestamp)
        self._tracks = [tr for tr in self._tracks if t - tr.t <= self.max_age_s]
        indexed = list(enumerate(detections))
        high = [(i, d) for i, d in indexed if d.confidence >= self.high]
        low = [(i, d) for i, d in indexed if self.low <= d.confidence < self.high]
        # 1) high-confidence detections with every track; 2) low-confidence ones with the tracks left
        m1, rest_t, rest_high = self._associate(self._tracks, high, t)
        m2, _, _ = self._associate(rest_t, low, t)
        out: dict[int, Detection] = {}
        for tr, i, d in m1 + m2:
            box = np.array(_xyxy(d), np.float32)
            dt = t - tr.t
            if dt > 1e-6:
                v = ((box[:2] + box[2:]) - (tr.box[:2] + tr.box[2:])) / (2 * dt)
                tr.velocity = v if tr.hits == 1 else self.smoothing * v + (1 - self.smoothing) * tr.velocity
            tr.box, tr.t = box, t
            tr.hits += 1
            if tr.hits >= self.min_hits:
                tr.confirmed = True
            if tr.confirmed:
                out[i] = replace(d, track_id=tr.id)
        for i, d in rest_high:  # new tracks only from confident detections
            tr = _Track(next(self._ids), d.label, np.array(_xyxy(d), np.float32), t, np.zeros(2, np.float32))
            tr.confirmed = self.min_hits <= 1
            self._tracks.append(tr)
            if tr.confirmed:
                out[i] = replace(d, track_id=tr.id)
        return [out[i] for i in sorted(out)]


# --------------------------------------------------------------------------- ultralytics ByteTrack


def bytetrack_available() -> bool:
    """ultralytics' BYTETracker can be used without it trying to install ``lap``."""
    return importlib.util.find_spec("lap") is not None and importlib.util.find_spec("ultralytics") is not None


class _Results:
    """The results-like object BYTETracker wants: ``conf``, ``cls``, ``xywh`` and boolean indexing."""

    def __init__(self, xyxy: np.ndarray, conf: np.ndarray, cls: np.ndarray) -> None:
        self.xyxy, self.conf, self.cls = xyxy, conf, cls

    @property
    def xywh(self) -> np.ndarray:
        x = self.xyxy
        return np.stack([(x[:, 0] + x[:, 2]) / 2, (x[:, 1] + x[:, 3]) / 2, x[:, 2] - x[:, 0], x[:, 3] - x[:, 1]], 1) \
            if len(x) else np.zeros((0, 4), np.float32)

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, idx) -> _Results:
        return _Results(self.xyxy[idx], self.conf[idx], self.cls[idx])


class ByteTrackTracker(Tracker):
    """ultralytics' ``BYTETracker`` behind :class:`Tracker`.

    ``high`` is ByteTrack's ``track_high_thresh`` and ``new_track_thresh``; ``max_age_s`` times
    ``fps`` (the detect rate) is its ``track_buffer`` in frames. Labels are mapped to numeric classes
    for it and back from the detection index it returns.
    """

    kind = "bytetrack"

    def __init__(self, high: float = 0.5, low: float = 0.1, max_age_s: float = 3.0, fps: float = 5.0,
                 match_thresh: float = 0.8) -> None:
        from ultralytics.trackers.byte_tracker import BYTETracker

        self._args = SimpleNamespace(
            tracker_type="bytetrack", track_high_thresh=high, track_low_thresh=low, new_track_thresh=high,
            track_buffer=max(1, round(max_age_s * fps)), match_thresh=match_thresh, fuse_score=True,
        )
        self._tracker = BYTETracker(self._args)
        self._labels: dict[str, int] = {}

    def reset(self) -> None:
        self._tracker.reset()

    def update(self, detections: list[Detection], timestamp: float) -> list[Detection]:
        n = len(detections)
        xyxy = np.array([_xyxy(d) for d in detections], np.float32).reshape(n, 4)
        conf = np.array([d.confidence for d in detections], np.float32)
        cls = np.array([self._labels.setdefault(d.label, len(self._labels)) for d in detections], np.float32)
        rows = self._tracker.update(_Results(xyxy, conf, cls))
        out: dict[int, Detection] = {}
        for row in np.asarray(rows).reshape(-1, 8) if len(rows) else []:
            idx, tid = int(row[7]), int(row[4])
            if 0 <= idx < n:
                out[idx] = replace(detections[idx], track_id=tid)
        return [out[i] for i in sorted(out)]


def make_tracker(kind: str = "auto", *, high: float = 0.5, low: float = 0.1, max_age_s: float = 3.0,
                 fps: float = 5.0) -> Tracker:
    """``"bytetrack"`` (ultralytics; raises if unavailable), ``"iou"`` (ours), or ``"auto"``."""
    if kind not in ("auto", "bytetrack", "iou"):
        raise ValueError(f"unknown tracker {kind!r} (auto, bytetrack or iou)")
    if kind == "bytetrack" or (kind == "auto" and bytetrack_available()):
        try:
            return ByteTrackTracker(high=high, low=low, max_age_s=max_age_s, fps=fps)
        except Exception as exc:
            if kind == "bytetrack":
                raise
            log.warning("ultralytics ByteTrack unusable (%s); using the IoU tracker", exc)
    return IoUTracker(high=high, low=low, max_age_s=max_age_s)


__all__ = ["Box", "ByteTrackTracker", "IoUTracker", "Tracker", "bytetrack_available", "iou_matrix", "make_tracker"]
