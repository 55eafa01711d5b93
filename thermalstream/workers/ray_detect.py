"""A shared detector for the Ray backend (``THERMALSTREAM_RAY_DETECTORS=N``): N Ray actors each
load the detector once (on a GPU when the cluster has one) and serve the camera workers of every
node, so the workers load none.

* :class:`DetectorActor` (one per pool member, ``max_restarts=-1``) holds the detector. Calls from
  many workers that arrive together run as one batch (``detect_keyed`` with every camera's frame),
  so a GPU works on batches, not on one frame at a time.
* :class:`PooledDetector` is the worker's detector: its own :class:`~thermalstream.detect.worker.DetectorWorker`
  keeps the motion gate, the per-camera rate, fairness and *latest frame wins* (one slot per
  camera; a newer frame replaces a waiting one and is counted as ``replaced``). A batch goes to the
  actors and the worker waits for the answer, so a worker never has more than one call per camera
  out. A camera always goes to the same actor (stateful detectors keep one state per camera there);
  when that actor is dead or restarting its frames go to another one until it is back.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections import Counter
from dataclasses import asdict
from typing import Any

from thermalstream.detect.service_status import NO_DETECTOR
from thermalstream.detect.types import Detection, Detector, DetectorStatus
from thermalstream.frame import Frame

log = logging.getLogger(__name__)
CALL_TIMEOUT_S = 60.0  # a batch not answered by then fails (counted as a detector error)
STATUS_EVERY_S = 1.0  # how often a worker asks the actors how they are
DOWN_S = 2.0  # after a failed call an actor gets no frames for this long (it is restarting)
MAX_BATCH = 16  # frames of one worker in one round trip; the actor merges concurrent calls
ACTOR_OPTIONS = {"max_restarts": -1, "max_task_retries": 0, "max_concurrency": 32, "num_cpus": 1}


def actor_options(n: int, cluster_gpus: float) -> dict[str, Any]:
    """Ray options of each of ``n`` detector actors: a share of the cluster's GPUs (one each at
    most) when it has any, else one CPU each; spread over the nodes."""
    gpus = min(1.0, cluster_gpus / n) if cluster_gpus > 0 else 0
    return {**ACTOR_OPTIONS, **({"num_gpus": gpus} if gpus else {}), "scheduling_strategy": "SPREAD"}


class DetectorActor:
    """One member of the pool: loads the configured detector (``THERMALSTREAM_DETECTOR``) and runs
    the frames every worker sends; concurrent calls are merged into one ``detect_keyed`` batch."""

    def __init__(self, settings: Any, name: str) -> None:
        import cv2
        import ray

        from thermalstream.runtime import make_detector_factory

        cv2.setNumThreads(settings.opencv_pool)
        ctx = ray.get_runtime_context()
        self.name, self.node_id, self.pid = name, ctx.get_node_id(), os.getpid()
        self.restarted = bool(ctx.was_current_actor_reconstructed)
        self.frames: Counter[Any] = Counter()  # frames detected per camera
        self.calls = 0  # detector invocations (a merged batch is one)
        self._cond = threading.Condition()
        self._queue: list[tuple[list, list, dict]] = []
        self.detector: Detector | None = None
        self.error = ""
        factory = make_detector_factory(settings)
        try:
            self.detector = factory() if factory is not None else None
        except Exception as exc:  # noqa: BLE001 - said in status(), as in-process
            log.exception("detector actor %s: loading the detector failed", name)
            self.error = f"{exc.__class__.__name__}: {exc}"
        threading.Thread(target=self._run, name="detector-batches", daemon=True).start()

    def detect(self, keys: list, frames: list[Frame]) -> list[list[Detection]]:
        """One list of detections per frame (raises what the detector raised)."""
        req: dict[str, Any] = {"done": False}
        with self._cond:
            self._queue.append((list(keys), list(frames), req))
            self._cond.notify_all()
            self._cond.wait_for(lambda: req["done"])
        if "error" in req:
            raise req["error"]
        return req["result"]

    def _run(self) -> None:
        """Take every waiting call, run them as one batch, hand each its part of the answer."""
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue)
                batch, self._queue = self._queue, []
            keys = [k for ks, _f, _r in batch for k in ks]
            frames = [f for _k, fs, _r in batch for f in fs]
            try:
                if self.detector is None:
                    raise RuntimeError(self.status()["message"] or "no detector")
                results = self.detector.detect_keyed(keys, frames)
                self.calls += 1
                self.frames.update(keys)
                start = 0
                for ks, _f, req in batch:
                    req["result"] = [list(r) for r in results[start:start + len(ks)]]
                    start += len(ks)
            except Exception as exc:  # noqa: BLE001 - every caller gets the error
                for _k, _f, req in batch:
                    req["error"] = exc
            with self._cond:
                for _k, _f, req in batch:
                    req["done"] = True
                self._cond.notify_all()

    def forget(self, key: Any) -> None:
        if self.detector is not None:
            self.detector.forget(key)

    def status(self) -> dict[str, Any]:
        """The detector's state and what a worker's proxy copies (stateful, tracks_objects…)."""
        det = self.detector
        if det is None:
            st = DetectorStatus("error" if self.error else "unavailable", message=self.error or NO_DETECTOR)
        else:
            try:
                st = det.status()
            except Exception as exc:  # noqa: BLE001
                st = DetectorStatus("error", message=f"{exc.__class__.__name__}: {exc}")
        return {"status": asdict(st), "stateful": bool(getattr(det, "stateful", False)),
                "tracks_objects": bool(getattr(det, "tracks_objects", False)),
                "min_event_s": float(getattr(det, "min_event_s", 0.0) or 0.0)}

    def info(self) -> dict[str, Any]:
        """Where it runs and what it did: name, node, pid, restarted, calls, frames per camera."""
        return {"name": self.name, "node_id": self.node_id, "pid": self.pid, "restarted": self.restarted,
                "loaded": self.detector is not None, "calls": self.calls, "frames": dict(self.frames)}


class PooledDetector(Detector):
    """A camera worker's detector when the pool is on: frames go to the detector actors."""

    name = "ray detector pool"

    def __init__(self, actors: list[Any], timeout_s: float = CALL_TIMEOUT_S) -> None:
        """``actors``: the detector actors' handles, or their names (looked up in Ray's namespace)."""
        if not actors:
            raise ValueError("a detector pool needs at least one detector actor")
        self.handles = [_lookup(a) if isinstance(a, str) else a for a in actors]
        self.timeout_s = timeout_s
        self.stateful = self.tracks_objects = False  # the actors' detector's, once they answer
        self.min_event_s = 0.0
        self.rerouted = 0  # batches sent to another actor because theirs was down
        self._down: dict[int, tuple[float, str]] = {}  # actor index -> (no frames until, why)
        self._status = DetectorStatus("loading", backend="ray", message="waiting for the Ray detector actors")
        self._stop = threading.Event()
        threading.Thread(target=self._watch, name="detector-pool-status", daemon=True).start()

    @property
    def max_batch(self) -> int:
        return MAX_BATCH

    def status(self) -> DetectorStatus:
        return self._status

    def detect(self, frames: list[Frame]) -> list[list[Detection]]:
        return self.detect_keyed(list(range(len(frames))), frames)

    def detect_keyed(self, keys: list, frames: list[Frame]) -> list[list[Detection]]:
        """Each camera's frame to its actor (all actors at once), then every answer."""
        groups: dict[int, list[int]] = {}
        for j, key in enumerate(keys):
            groups.setdefault(self._actor_for(key), []).append(j)
        out: list[list[Detection]] = [[] for _ in frames]
        calls = {i: self._send(i, keys, frames, idx) for i, idx in groups.items()}
        for i, ref in calls.items():
            for j, dets in zip(groups[i], self._answer(i, ref, keys, frames, groups[i])):
                out[j] = dets
        return out

    def forget(self, key: Any) -> None:
        self.handles[self._home(key)].forget.remote(key)

    def close(self) -> None:
        self._stop.set()

    # ----- routing
    def _home(self, key: Any) -> int:
        return (key if isinstance(key, int) else hash(key)) % len(self.handles)

    def _actor_for(self, key: Any) -> int:
        """The camera's own actor, or the next one that is up while it is down."""
        first, now = self._home(key), time.monotonic()
        for k in range(len(self.handles)):
            i = (first + k) % len(self.handles)
            if self._down.get(i, (0.0, ""))[0] <= now:
                return i
        return first  # all down: Ray holds the call until the actor is back

    def _send(self, i: int, keys: list, frames: list[Frame], idx: list[int]) -> Any:
        slim = [dataclasses.replace(frames[j], packet=None) for j in idx]  # the encoded packet is for recorders
        return self.handles[i].detect.remote([keys[j] for j in idx], slim)

    def _answer(self, i: int, ref: Any, keys: list, frames: list[Frame], idx: list[int]) -> list[list[Detection]]:
        """The actor's answer; once more on another actor when this one died meanwhile."""
        import ray
        from ray.exceptions import GetTimeoutError, RayActorError

        try:
            return ray.get(ref, timeout=self.timeout_s)
        except GetTimeoutError:
            _cancel(ref)
            raise RuntimeError(f"detector actor {i + 1} did not answer within {self.timeout_s:g} s") from None
        except RayActorError as exc:
            reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            self._down[i] = (time.monotonic() + DOWN_S, reason)
            other = self._actor_for(keys[idx[0]])
            if other == i:
                raise RuntimeError(f"no detector actor answers (actor {i + 1}: {reason})") from None
            self.rerouted += 1
            log.warning("detector actor %s failed (%s); its cameras' frames go to actor %s meanwhile",
                        i + 1, reason, other + 1)
            return ray.get(self._send(other, keys, frames, idx), timeout=self.timeout_s)

    # ----- status
    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                self._refresh()
            except Exception:  # noqa: BLE001 - the status says what it last knew
                log.debug("detector pool status failed", exc_info=True)
            self._stop.wait(STATUS_EVERY_S)

    def _refresh(self) -> None:
        import ray

        refs = [h.status.remote() for h in self.handles]
        answers: list[dict | str] = []
        for i, ref in enumerate(refs):
            try:
                answers.append(ray.get(ref, timeout=max(STATUS_EVERY_S * 3, 2.0)))
            except Exception as exc:  # noqa: BLE001 - dead, restarting or slow
                _cancel(ref)
                answers.append(f"actor {i + 1}: {type(exc).__name__}")
        first = next((a for a in answers if isinstance(a, dict)), None)
        if first is not None:
            self.stateful, self.tracks_objects = first["stateful"], first["tracks_objects"]
            self.min_event_s = first["min_event_s"]
        self._status = pool_status(answers)


def pool_status(answers: list[dict | str]) -> DetectorStatus:
    """One status for the pool from each actor's ``status()`` (a string: why it did not answer)."""
    n = len(answers)
    ok = [a["status"] for a in answers if isinstance(a, dict)]
    ready = [s for s in ok if s["state"] == "ready"]
    missing = [a for a in answers if isinstance(a, str)]
    if ready:
        s = ready[0]
        backend = f"ray pool {len(ready)}/{n}" + (f" · {s['backend']}" if s["backend"] else "")
        why = "; ".join([*missing, *(f"{x['state']}: {x['message']}" for x in ok if x["state"] != "ready")])
        note = f"{n - len(ready)} of {n} detector actors not ready ({why})" if len(ready) < n else ""
        return DetectorStatus("ready", backend=backend, model=s["model"], message=note)
    if ok:
        s = ok[0]
        return DetectorStatus(s["state"], backend="ray pool", model=s["model"], message=s["message"])
    return DetectorStatus("loading", backend="ray pool",
                          message=f"no detector actor answers yet ({'; '.join(missing)}); Ray restarts them")


def _lookup(name: str, timeout_s: float = 60.0) -> Any:
    """The named detector actor (the server creates it before any worker: wait while Ray registers it)."""
    import ray

    from thermalstream.workers.ray_backend import NAMESPACE

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return ray.get_actor(name, namespace=NAMESPACE)
        except ValueError:
            if time.monotonic() > deadline:
                raise ValueError(f"no detector actor {name!r} in the Ray cluster") from None
            time.sleep(0.5)


def _cancel(ref: Any) -> None:
    """Drop a call nobody waits for any more (a queued one is never run; a running one finishes)."""
    import ray

    try:
        ray.cancel(ref)
    except Exception:  # noqa: BLE001 - already finished, or the actor is gone
        log.debug("cancelling a detector call failed", exc_info=True)
