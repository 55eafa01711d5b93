"""The Ray backend (``THERMALSTREAM_WORKERS=ray``): camera workers as Ray actors, for a lab that
outgrows one machine (docs/cluster.md).

Each actor runs a :class:`~thermalstream.workers.core.WorkerCore` for the cameras placed on it, on
the shared PostgreSQL and data folder. The server connects to the cluster named by
``THERMALSTREAM_RAY_ADDRESS`` (unset: a Ray of its own on this machine) and owns the actors.

* **Placement.** A pool of ``THERMALSTREAM_RAY_WORKERS`` actors (default: one per node) spread
  over the nodes takes the cameras without a pin, fewest cameras first. A camera pinned in
  ``THERMALSTREAM_RAY_PINS`` (``3=usb_lab_a``) runs on an actor that needs that custom resource,
  so on the node started with ``ray start --resources='{"usb_lab_a": 1}'``. A local device
  (USB, Lepton, TC001) without a pin stays on the server's own node.
* **Failures.** Actors have ``max_restarts=-1``: Ray starts a dead actor again, on another node
  when its node is gone. When an actor dies its unpinned cameras move at once to the live actor
  with the fewest cameras (``on_lost`` resumes their recordings and records the gap); pinned ones
  wait for their node. A worker that is only unreachable keeps its cameras (never two owners).
* **Shared detector.** ``THERMALSTREAM_RAY_DETECTORS=N`` starts N detector actors that every
  worker calls instead of loading a detector (:mod:`.ray_detect`).
* **Frames** come back as encoded bytes: each actor's ``reports`` call returns everything the
  worker emitted since the last one, only the newest picture per camera (latest wins).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

from thermalstream.capture.manager import CameraManager
from thermalstream.config import Settings
from thermalstream.sources.url import parse_camera_url
from thermalstream.workers.backend import RemoteBackend, WorkerError, WorkerLost
from thermalstream.workers.protocol import Assign, Command, Hello, Unassign
from thermalstream.workers.ray_actor import CHECK_FILE, POLL_S, CameraWorkerActor
from thermalstream.workers.remote import WorkerHub

log = logging.getLogger(__name__)
CALL_TIMEOUT_S = 60.0  # a command, an assignment or a Hello
DEVICE_KINDS = ("usb", "lepton", "topdon")  # cameras plugged into a machine
NAMESPACE = "thermalstream"
# restarted by Ray for ever (elsewhere when their node dies); no CPU reserved (a one-CPU node still takes
# a restarted actor); 1 MiB of logical memory, because Ray puts an actor that asks for nothing on a random
# node whatever its soft node affinity says (Ray 2.60, two nodes: 4 of 12 on the asked node; 12 of 12 so).
ACTOR_OPTIONS = {"max_restarts": -1, "max_task_retries": 0, "max_concurrency": 8, "num_cpus": 0, "memory": 2**20}


def parse_pins(text: str) -> dict[int, str]:
    """``"3=usb_lab_a, 5=usb_lab_b"`` -> {3: "usb_lab_a", 5: "usb_lab_b"}; ValueError on bad input."""
    pins: dict[int, str] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        cid, sep, res = (s.strip() for s in part.partition("="))
        if not sep or not cid.isdigit() or not res or not res.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"THERMALSTREAM_RAY_PINS: {part!r} is not camera_id=resource (e.g. 3=usb_lab_a)")
        pins[int(cid)] = res
    return pins


# ----------------------------------------------------------------- the server side

@dataclass(eq=False)
class _Actor:
    key: str  # "pool-1", "pin:usb_lab_a" or "node:10.0.0.5"
    handle: Any
    worker_id: str = ""
    pid: int | None = None
    node_id: str | None = None
    alive: bool = False  # said Hello and can run cameras
    problem: str | None = None
    cameras: set[int] = field(default_factory=set)
    restarts: int = 0

    @property
    def pinned(self) -> bool:
        return not self.key.startswith("pool-")


class RayBackend(RemoteBackend):
    """Camera workers as Ray actors; the server's view of them (Backend protocol; assign and
    unassign: RemoteBackend)."""

    name = "ray"

    def __init__(self, settings: Settings, hub: WorkerHub, manager: CameraManager, *,
                 errors: dict[str, type[Exception]] | None = None, init: dict[str, Any] | None = None) -> None:
        """``init``: extra ``ray.init`` arguments (tests bind everything to 127.0.0.1)."""
        super().__init__(settings, hub, manager, errors=errors)
        self.pins = parse_pins(settings.ray_pins)
        self._init = dict(init or {})
        self._actors: dict[str, _Actor] = {}
        self._owner: dict[int, _Actor] = {}
        self._assigning: dict[int, Any] = {}  # camera -> its Assign call, awaited before its next command
        self._orphans: dict[int, str] = {}  # camera -> the dead worker it waits to leave (no live worker yet)
        self._token = secrets.token_hex(16)
        self._remote_cls = None
        self._detectors: list[Any] = []  # the shared detector actors (THERMALSTREAM_RAY_DETECTORS)
        self._detector_names: list[str] = []  # their names: workers look them up (plain strings restart safely)
        self._detector_options: dict[str, Any] = {}
        self._started = False
        self._own_ray = False  # this backend called ray.init (and shuts it down)

    # ----- lifecycle
    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            import ray

            if not ray.is_initialized():
                address = self.settings.ray_address
                ray.init(address=address or None, namespace=NAMESPACE, log_to_driver=False, **self._init)
                self._own_ray = True
            self._check_database(ray)
            path = self.settings.data_dir / CHECK_FILE
            path.write_text(self._token)
            path.chmod(0o600)
            self._remote_cls = ray.remote(CameraWorkerActor)
            n = self.settings.ray_detectors  # named now, made after the pool: camera workers claim their nodes first
            self._detector_names = [f"thermalstream-detector-{self._token[:8]}-{i + 1}" for i in range(n)]
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            nodes = sorted(n["NodeID"] for n in _alive_nodes(ray))
            count = self.settings.ray_workers or max(1, len(nodes))
            for i in range(count):  # round robin over today's nodes; soft: a restart goes wherever Ray can
                where = NodeAffinitySchedulingStrategy(nodes[i % len(nodes)], soft=True) if nodes else "SPREAD"
                self._spawn(f"pool-{i + 1}", scheduling_strategy=where)
            self._start_detectors(ray)
            self._started = True

    def stop(self) -> None:
        """Stop every worker (they close their recordings), then let the actors go."""
        import ray

        self._stopping.set()
        with self._lock:
            actors = list(self._actors.values())
        refs = [a.handle.stop.remote() for a in actors]
        try:
            ray.get(refs, timeout=CALL_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - stopping goes on; the actors die with their owner
            log.warning("Ray workers did not all stop cleanly: %s", exc)
        for h in [a.handle for a in actors] + self._detectors:
            ray.kill(h, no_restart=True)
        if self._own_ray:
            ray.shutdown()

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """True once every pool actor said Hello (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if all(a.alive for a in self._actors.values() if not a.pinned):
                    return True
            time.sleep(0.1)
        return False

    # ----- the Backend protocol (assign, unassign: RemoteBackend)
    def command(self, camera_id: int, name: str, args: dict[str, Any] | None = None,
                timeout: float | None = None) -> Any:
        with self._lock:
            a = self._owner.get(camera_id)
            assigning = self._assigning.get(camera_id)  # the actor runs calls side by side: Assign first
        if a is None or not a.alive:
            raise LookupError(f"camera {camera_id} runs on no worker")
        msg = Command(camera_id, name, dict(args or {}))
        if timeout is None:  # never blocks (viewers arrive on the event loop)
            def send(_done=None) -> None:
                a.handle.call.remote(msg).future().add_done_callback(lambda f: _log_failure(a, msg, f))

            if assigning is None:
                send()
            else:
                assigning.future().add_done_callback(send)
            return None
        if assigning is not None:
            try:
                self._await(a, assigning, CALL_TIMEOUT_S)  # a failed Assign fails this command with its reason
            finally:
                with self._lock:
                    if self._assigning.get(camera_id) is assigning:
                        del self._assigning[camera_id]
        return self._call(a, msg, timeout)

    def owner(self, camera_id: int) -> str | None:
        with self._lock:
            a = self._owner.get(camera_id)
            return a.worker_id if a is not None else None

    def health(self) -> dict[str, Any]:
        with self._lock:
            workers = [{"id": a.worker_id or a.key, "key": a.key, "pid": a.pid, "node": a.node_id, "alive": a.alive,
                        "problem": a.problem, "cameras": sorted(a.cameras)} for a in self._actors.values()]
            waiting = sorted(self._unplaced)
        return {"backend": self.name, "address": self.settings.ray_address or "local",
                "restarts": self.restarts, "workers": workers, "waiting": waiting,
                "detectors": {"actors": len(self._detectors), "gpus_each": self._detector_options.get("num_gpus", 0)}}

    def _release(self, camera_id: int) -> _Actor | None:
        self._assigning.pop(camera_id, None)
        self._orphans.pop(camera_id, None)
        return self._owner.pop(camera_id, None)

    def _stop_on(self, a: _Actor, camera_id: int) -> None:
        self._call(a, Unassign(camera_id), CALL_TIMEOUT_S)

    # ----- actors
    def _start_detectors(self, ray) -> None:
        """The shared detector actors (``_detector_names``), when THERMALSTREAM_RAY_DETECTORS asks for them;
        each worker's PooledDetector finds them by name."""
        if not self._detector_names:
            return
        from thermalstream.workers.ray_detect import DetectorActor, actor_options

        n = len(self._detector_names)
        self._detector_options = actor_options(n, float(ray.cluster_resources().get("GPU", 0)))
        cls = ray.remote(DetectorActor)
        self._detectors = [cls.options(name=name, namespace=NAMESPACE, **self._detector_options).remote(
            self.settings, name) for name in self._detector_names]
        log.info("%d shared detector actors (%s)", n, self._detector_options)

    def _spawn(self, key: str, **options: Any) -> _Actor:
        handle = self._remote_cls.options(**ACTOR_OPTIONS, **options).remote(self.settings, key, self._token,
                                                                             self._detector_names)
        a = _Actor(key, handle)
        self._actors[key] = a
        threading.Thread(target=self._pump, args=(a,), name=f"ray-worker-{key}", daemon=True).start()
        return a

    def _actor_for(self, camera_id: int) -> _Actor | None:
        """The actor a camera must run on (pinned), or the live pool actor with the fewest cameras."""
        pin = self.pins.get(camera_id)
        if pin is None and parse_camera_url(self._assignments[camera_id].url, must_exist=False).kind in DEVICE_KINDS:
            import ray

            pin = f"node:{ray.util.get_node_ip_address()}"  # a device stays on the server's machine
        if pin is not None:
            key = pin if pin.startswith("node:") else f"pin:{pin}"
            a = self._actors.get(key) or self._spawn(key, resources={pin: 0.001})
            return a if a.alive else None
        live = [a for a in self._actors.values() if a.alive and not a.pinned]
        return min(live, key=lambda x: (len(x.cameras), x.key)) if live else None

    def _place(self, camera_id: int) -> str:
        """Assign a camera to its actor; with none ready it waits (placed on the next Hello)."""
        cam = self.hub.cameras[camera_id]
        a = self._actor_for(camera_id)
        if a is None:
            self._unplaced.add(camera_id)
            cam.worker_id = None
            pin = self.pins.get(camera_id)
            cam.set_status("reconnecting", f"waiting for a Ray node with resource '{pin}'" if pin else
                           "waiting for a Ray worker to start")
            return ""
        self._unplaced.discard(camera_id)
        cam.worker_id = a.worker_id
        cam.encoder.reset()
        a.cameras.add(camera_id)
        self._owner[camera_id] = a
        self._assigning[camera_id] = a.handle.call.remote(
            Assign(replace(self._assignments[camera_id], live=cam.encoder.live)))
        if self.on_owner is not None:
            self.on_owner(camera_id, a.worker_id)
        return a.worker_id

    def _pump(self, a: _Actor) -> None:
        """Say Hello, then carry the actor's reports to the hub until it dies or the server stops."""
        import ray
        from ray.exceptions import ActorDiedError, GetTimeoutError, RayActorError

        ref = None
        while not self._stopping.is_set():
            try:
                if not a.alive:
                    if not self._hello(a, ray.get(a.handle.hello.remote(), timeout=CALL_TIMEOUT_S)):
                        self._stopping.wait(10.0)  # a node without the shared folder: asked again later
                    continue
                ref = ref or a.handle.reports.remote(POLL_S)
                batch = ray.get(ref, timeout=POLL_S + CALL_TIMEOUT_S)
                ref = a.handle.reports.remote(POLL_S)  # the next one travels while this batch is applied
                for msg in batch:
                    self.hub.report(a.worker_id, msg)
            except (RayActorError, GetTimeoutError) as exc:
                ref = None
                if self._stopping.is_set():
                    return
                dead = isinstance(exc, ActorDiedError) or not _node_alive(ray, a.node_id)
                if dead and a.alive:
                    self._lost(a, f"Ray worker {a.worker_id} died ({_first_line(exc)})")
                elif not dead:  # unreachable or slow, perhaps still running: it keeps its cameras
                    log.warning("Ray worker %s unreachable: %s", a.worker_id or a.key, _first_line(exc))
                self._stopping.wait(0.5)
            except Exception:  # the pump must outlive any one bad report
                log.exception("reports of Ray worker %s failed", a.worker_id or a.key)

    def _hello(self, a: _Actor, answer: tuple[Hello, str, str | None]) -> bool:
        """The actor (again) says who it is; False when it cannot run cameras."""
        hello, node_id, problem = answer
        if a.worker_id and hello.worker_id != a.worker_id and a.cameras:  # restarted unseen: its cameras are gone
            self._lost(a, f"Ray worker {a.worker_id} was restarted")
        with self._lock:
            a.worker_id, a.pid, a.node_id, a.problem = hello.worker_id, hello.pid, node_id, problem
            if problem:
                log.error("Ray worker %s cannot run cameras: %s", hello.worker_id, problem)
                return False
            a.alive = True
            placed = [(cid, self._place(cid)) for cid in sorted(self._unplaced) if cid in self._assignments]
            moved = [(cid, self._orphans.pop(cid), new) for cid, new in placed if new and cid in self._orphans]
        self._resume(moved)
        return True

    def _lost(self, a: _Actor, reason: str) -> None:
        dead = a.worker_id
        with self._lock:
            moved = self._lost_locked(a, reason)
            for cid, new in moved:
                if not new:
                    self._orphans[cid] = dead  # resumed when a worker takes it
        self._resume([(cid, dead, new) for cid, new in moved if new])

    def _resume(self, moved: list[tuple[int, str, str]]) -> None:
        """Tell the recording service which cameras changed worker after a loss (it resumes recordings)."""
        for cid, dead, new in moved:
            if self.on_lost is not None:
                try:
                    self.on_lost(cid, dead, new)
                except Exception:
                    log.exception("camera %s: resuming after the loss of %s failed", cid, dead)

    def _lost_locked(self, a: _Actor, reason: str) -> list[tuple[int, str]]:
        """Mark the actor dead and place its cameras elsewhere (pinned ones wait for it)."""
        log.error("%s; moving its cameras %s", reason, sorted(a.cameras))
        a.alive = False
        a.restarts += 1
        self.restarts += 1
        cams, a.cameras = sorted(a.cameras), set()
        moved = []
        for cid in cams:
            self._owner.pop(cid, None)
            cam = self.hub.cameras.get(cid)
            if cam is None or cid not in self._assignments:
                continue
            cam.set_status("reconnecting", f"{reason}; moving to another worker")
            moved.append((cid, self._place(cid)))
        return moved

    def _call(self, a: _Actor, msg: Any, timeout: float) -> Any:
        return self._await(a, a.handle.call.remote(msg), timeout)

    def _await(self, a: _Actor, ref: Any, timeout: float) -> Any:
        """The value of a ``call``, or the worker's exception raised here by class name."""
        import ray
        from ray.exceptions import GetTimeoutError, RayActorError

        try:
            status, value, kind = ray.get(ref, timeout=timeout)
        except RayActorError as exc:
            raise WorkerLost(f"Ray worker {a.worker_id} is gone: {_first_line(exc)}") from None
        except GetTimeoutError:
            raise WorkerError(f"Ray worker {a.worker_id} did not answer within {timeout:g} s") from None
        if status == "error":
            raise self.errors.get(kind or "", WorkerError)(value)
        return value

    def _check_database(self, ray) -> None:
        """SQLite lives on one machine: refuse it once the cluster has nodes on other machines."""
        hosts = {n["NodeManagerAddress"] for n in _alive_nodes(ray)}
        if self.settings.db_url.startswith("sqlite") and len(hosts) > 1:
            raise ValueError(f"THERMALSTREAM_WORKERS=ray with nodes on {len(hosts)} machines needs a shared "
                             "PostgreSQL database (THERMALSTREAM_DATABASE_URL); SQLite is one machine's file")


def _log_failure(a: _Actor, msg: Command, fut) -> None:
    """A command nobody waits for still says when it failed."""
    try:
        status, value, _kind = fut.result()
    except Exception as exc:  # noqa: BLE001
        status, value = "error", _first_line(exc)
    if status == "error":
        log.warning("camera %s: %s on Ray worker %s failed: %s", msg.camera_id, msg.name, a.worker_id, value)


def _node_alive(ray, node_id: str | None) -> bool:
    """False once Ray has marked the node dead (its processes, the actor's included, are gone)."""
    if node_id is None:
        return True
    try:
        return any(n.get("NodeID") == node_id and n.get("Alive") for n in ray.nodes())
    except Exception:  # noqa: BLE001 - the cluster state is unreadable: assume alive, never two owners
        return True


def _alive_nodes(ray) -> list[dict[str, Any]]:
    return [n for n in ray.nodes() if n.get("Alive")]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else exc.__class__.__name__
