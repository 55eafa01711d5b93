"""Benchmark the all-on load per worker backend: N cameras, each watched, recorded and detected.

    .venv/bin/python bench/scale.py [--backend processes,ray] [--cameras 4,8] [--seconds 8] [--warmup 4]
                                    [--detector hotspot|yolo] [--weights data/models/yolov8s.pt]
                                    [--database-url postgresql+psycopg://...] [--json out.json]

For every backend (the in-process backend always runs first: it is the baseline of the same run)
and every N in --cameras, a real server is started (``python -m thermalstream serve`` with
``THERMALSTREAM_WORKERS=<backend>``) in a fresh data folder, and driven only through its API, as a
user would: N simulated 640x512 cameras at 25 fps are added (POST /api/cameras), detection is
switched on (PATCH /api/cameras/{id}/detection) and recording started (POST /api/recording/start:
H.264 plus the radiometric HDF5, the defaults). One WebSocket viewer per camera reads /ws/video/{id}
in a separate client process (bench/live.py's viewer). After --warmup, --seconds are measured.

Columns per backend and N:
  fps min/med   frames per second each viewer received (the slowest viewer, the median viewer);
  p95 ms        capture-to-viewer latency (receive time minus the frame's capture time, one clock);
  cores         CPU seconds per second of the server and all its child processes (workers included);
  ms/frame      CPU milliseconds of that tree per captured camera-frame (holds up better than fps on a
                loaded machine); srv ms: the server process's own part of it (pages, viewers' sends,
                and with workers the receiving of their pictures and reports);
  procs         processes in the server's tree;
  MB/cam        proportional memory (PSS, so pages shared between processes count once) of the tree
                beyond the base measured with the server up and no camera, divided by N;
  rec drops     frames the running recordings dropped (from GET /metrics, since recording started);
  queued        items waiting in queues per camera at the end (GET /metrics queue_depth: mostly frames
                a recorder has not written yet, each a whole frame held in memory);
  det/s         detector calls per second (GET /metrics);
  capt fps      frames captured per camera per second (GET /metrics).
The server's own data folder and database are fresh for every run; with --database-url a fresh
PostgreSQL schema is made for each run and dropped after it.

The ray backend runs on a two-node Ray cluster on this machine (``ray.cluster_utils.Cluster``,
both nodes bound to 127.0.0.1, one CPU each; ``workers/ray_local.py``) that the server process
starts itself (``scale.py _ray_server``), so the cluster's processes, its actors included, count in
the server's tree. A Ray run that does not come up within --ray-timeout seconds is reported and
skipped; the other runs go on.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.live import sim_url  # after sys.path: the shared viewer and helpers
from bench.serving import Proc, free_port, tree_cpu

BACKENDS = ("inprocess", "processes", "ray")
PASSWORD = "bench admin password"


class Api:
    """A tiny JSON client for the served app (Bearer token after login)."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.token: str | None = None

    def call(self, method: str, path: str, body: dict | None = None, timeout: float = 30):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if resp.headers.get("Content-Type", "").startswith("application/json") else raw

    def login(self) -> str:
        self.token = self.call("POST", "/api/auth/token", {"username": "admin", "password": PASSWORD})["access_token"]
        return self.token

    def metrics(self) -> dict[str, float]:
        """GET /metrics summed by sample name (over cameras)."""
        from prometheus_client.parser import text_string_to_metric_families

        out: dict[str, float] = {}
        for fam in text_string_to_metric_families(self.call("GET", "/metrics").decode()):
            for s in fam.samples:
                out[s.name] = out.get(s.name, 0.0) + float(s.value)
        return out


def backend_available(name: str) -> str | None:
    """None when this tree's settings accept THERMALSTREAM_WORKERS=name, else why not."""
    from thermalstream.config import Settings

    if name == "inprocess" and "workers" not in Settings.model_fields:
        return None  # before the worker setting existed, everything ran in-process
    if "workers" not in Settings.model_fields:
        return "THERMALSTREAM_WORKERS is not a setting in this tree yet"
    try:
        Settings(workers=name)
    except Exception as exc:  # noqa: BLE001 - pydantic's message says which values are allowed
        return f"THERMALSTREAM_WORKERS={name} refused: {str(exc).splitlines()[-1].strip()}"
    if name == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            return "ray is not installed (pip install '.[ray]')"
    return None


def fresh_schema(url: str):
    """A new PostgreSQL schema; returns (url selecting it, drop function)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    base = make_url(url)
    admin = create_engine(base, poolclass=NullPool)
    schema = f"ts_scale_{uuid.uuid4().hex[:10]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()

    return base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False), drop


def own_cpu(proc) -> float:
    """CPU seconds of one process (not its children)."""
    t = proc.cpu_times()
    return t.user + t.system


def tree_pss(pid: int) -> tuple[float, int]:
    """(PSS of a process and its children in MB, number of processes); RSS where PSS is unreadable."""
    import psutil

    root = psutil.Process(pid)
    total, count = 0, 0
    for q in [root, *root.children(recursive=True)]:
        try:
            mem = q.memory_full_info()
            total += getattr(mem, "pss", mem.rss)
            count += 1
        except psutil.Error:
            pass
    return total / 2**20, count


def ray_server() -> int:
    """``scale.py _ray_server``: a two-node loopback Ray cluster started in this process, then
    ``thermalstream serve`` as its driver (the cluster is this process's children); stopped after."""
    from thermalstream.cli import main as cli
    from thermalstream.workers.ray_local import connect, loopback_patches, start_cluster, stop_cluster

    with loopback_patches():
        for attempt in (1, 2):  # a node may die while a saturated machine starts it: one more try
            c, nodes = start_cluster({}, quick_death=False)
            try:
                connect(c, nodes)
            except Exception as exc:
                print(f"ray cluster attempt {attempt} failed: {exc.__class__.__name__}: {exc}", flush=True)
                stop_cluster(c)
                if attempt == 2:
                    raise
                continue
            try:
                print("ray cluster ready:", c.address, flush=True)
                return cli(["serve"])
            finally:
                stop_cluster(c)
    return 1


def start_server(opts, backend: str, port: int, folder: Path, db_url: str | None) -> subprocess.Popen:
    env = dict(os.environ)
    env.update({
        "THERMALSTREAM_DATA_DIR": str(folder / "data"), "THERMALSTREAM_PORT": str(port),
        "THERMALSTREAM_HOST": "127.0.0.1", "THERMALSTREAM_DEFAULT_CAMERA": "",
        "THERMALSTREAM_ADMIN_PASSWORD": PASSWORD, "THERMALSTREAM_BCRYPT_ROUNDS": "4",
        "THERMALSTREAM_DETECTOR": opts.detector, "THERMALSTREAM_LOG_LEVEL": "WARNING",
        "THERMALSTREAM_LIVE_FPS": f"{opts.fps:g}", "THERMALSTREAM_WORKERS": backend,
    })
    if opts.weights:
        env["THERMALSTREAM_MODEL"] = str(Path(opts.weights).resolve())
    if db_url:
        env["THERMALSTREAM_DATABASE_URL"] = db_url
    log = open(folder / "server.log", "w")  # noqa: SIM115 - closed with the process
    cmd = [str(ROOT / "bench" / "scale.py"), "_ray_server"] if backend == "ray" else ["-m", "thermalstream", "serve"]
    return subprocess.Popen([sys.executable, *cmd], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def wait_until(what: str, check, timeout: float, server: subprocess.Popen, folder: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"server exited (rc={server.returncode}) while waiting for {what}:\n"
                               + (folder / "server.log").read_text()[-2000:])
        try:
            got = check()
            if got:
                return got
        except (OSError, urllib.error.URLError, ValueError, KeyError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"no {what} within {timeout:.0f} s; server log:\n" + (folder / "server.log").read_text()[-2000:])


def add_cameras(api: Api, opts, n: int) -> list[int]:
    """N cameras with detection on and recording started, through the API."""
    width, height = (int(v) for v in opts.size.split("x"))
    ids = []
    for i in range(n):
        cid = api.call("POST", "/api/cameras", {"url": sim_url(i, opts.fps, width, height), "name": f"sim {i}"})["id"]
        api.call("PATCH", f"/api/cameras/{cid}/detection", {"enabled": True})
        ids.append(cid)
    return ids


def all_live(api: Api, ids: list[int]) -> bool:
    rows = {c["id"]: c for c in api.call("GET", "/api/cameras")["cameras"]}
    return all(rows.get(cid, {}).get("status") == "live" for cid in ids)


def measure(opts, backend: str, n: int, tmp: Path) -> dict:
    import psutil

    folder = tmp / f"{backend}-{n}"
    folder.mkdir()
    db_url, drop = fresh_schema(opts.database_url) if opts.database_url else (None, None)
    port = free_port()
    server = start_server(opts, backend, port, folder, db_url)
    client = None
    api = Api(port)
    try:
        wait_until("login", api.login, opts.ray_timeout if backend == "ray" else 120, server, folder)
        ran = (api.call("GET", "/health").get("workers") or {}).get("backend")
        if ran is not None and ran != backend:  # never label one backend's figures with another's name
            raise RuntimeError(f"the server runs the {ran} backend, not {backend}")
        if backend == "inprocess":  # the server's own detector is part of the base; workers load theirs with cameras
            wait_until("a loaded detector", lambda: api.call("GET", "/health").get("model", {}).get("status")
                       not in (None, "loading"), 120, server, folder)
        time.sleep(2)
        base_mb, _ = tree_pss(server.pid)
        ids = add_cameras(api, opts, n)
        wait_until("every camera live", lambda: all_live(api, ids), 120, server, folder)
        for cid in ids:
            api.call("POST", "/api/recording/start", {"camera_id": cid})
        os.environ["BENCH_TOKEN"] = api.token  # inherited by the viewer process, not on its command line
        client = Proc([sys.executable, str(ROOT / "bench" / "live.py"), "_wsclient", "--port", str(port),
                       "--ids", ",".join(map(str, ids))], "viewers")
        client.expect("READY", 120)
        time.sleep(opts.warmup)
        sp = psutil.Process(server.pid)
        m0 = api.metrics()
        t0, c0, s0 = time.time(), tree_cpu(sp), own_cpu(sp)
        time.sleep(opts.seconds)
        t1, c1, s1 = time.time(), tree_cpu(sp), own_cpu(sp)
        m1 = api.metrics()
        mb, procs = tree_pss(server.pid)
        client.send(f"{t0!r} {t1!r}")
        res = json.loads(client.expect("RESULT", 60))
        dt = t1 - t0

        def rate(name: str) -> float | None:
            return (m1[name] - m0.get(name, 0.0)) / dt if name in m1 else None

        captured = rate("thermalstream_camera_frames_total")

        def per_frame(cpu_s: float) -> float | None:
            return cpu_s * 1000 / (captured * dt) if captured else None

        return {
            "backend": backend, "n": n, "seconds": dt, "fps": res["fps"], "p50": res["p50"], "p95": res["p95"],
            "cores": (c1 - c0) / dt, "ms_per_frame": per_frame(c1 - c0), "server_ms_per_frame": per_frame(s1 - s0),
            "procs": procs, "base_mb": base_mb, "mb": mb, "mb_per_cam": (mb - base_mb) / n,
            "rec_drops": m1.get("thermalstream_recording_dropped_frames"),
            "queued": m1["thermalstream_queue_depth"] / n if "thermalstream_queue_depth" in m1 else None,
            "det_per_s": rate("thermalstream_detector_calls_total"),
            "capture_fps": captured / n if captured is not None else None,
        }
    finally:
        if client is not None:
            client.close()
        kids = psutil.Process(server.pid).children(recursive=True) if server.poll() is None else []
        server.terminate()  # SIGTERM: the server stops its recordings and workers cleanly
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
        left = _alive(kids)
        if left:  # said, then ended: they would eat the next run's CPU
            print(f"  {len(left)} process(es) outlived the server ({backend} N={n}): killed", flush=True)
            for k in left:
                with contextlib.suppress(psutil.Error):
                    k.kill()
        if drop is not None:
            drop()


def _alive(procs) -> list:
    import psutil

    out = []
    for p in procs:
        with contextlib.suppress(psutil.Error):
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
    return out


def fmt(v, spec: str) -> str:
    return "-".rjust(int(spec.split(".")[0])) if v is None else format(v, spec)


def print_table(rows: list[dict], opts) -> None:
    head = (f"{'backend':<10}{'N':>3} {'fps min':>7} {'med':>5} {'p95 ms':>7} {'cores':>5} {'ms/frame':>8} "
            f"{'srv ms':>6} {'procs':>5} "
            f"{'MB/cam':>6} {'base MB':>7} {'rec drops':>9} {'queued':>6} {'det/s':>6} {'capt fps':>8}")
    print(head)
    print("-" * len(head))
    for r in rows:
        fps = r["fps"]
        print(f"{r['backend']:<10}{r['n']:>3} {fmt(min(fps) if fps else None, '7.1f')} "
              f"{fmt(statistics.median(fps) if fps else None, '5.1f')} {fmt(r['p95'], '7.0f')} {r['cores']:5.2f} "
              f"{fmt(r.get('ms_per_frame'), '8.2f')} {fmt(r.get('server_ms_per_frame'), '6.2f')} "
              f"{r['procs']:5d} {r['mb_per_cam']:6.0f} {r['base_mb']:7.0f} {fmt(r['rec_drops'], '9.0f')} "
              f"{fmt(r.get('queued'), '6.1f')} {fmt(r['det_per_s'], '6.1f')} {fmt(r['capture_fps'], '8.1f')}")
    print()
    want = opts.fps - 0.5
    for backend in dict.fromkeys(r["backend"] for r in rows):
        held = [r["n"] for r in rows if r["backend"] == backend and r["fps"] and min(r["fps"]) >= want]
        print(f"{backend}: largest N with every viewer >= {want:g} fps: {max(held) if held else 'none'}")
        for r in rows:
            if r["backend"] != backend:
                continue
            ok = (r["fps"] and min(r["fps"]) >= want and r["p95"] is not None and r["p95"] < 100
                  and r["rec_drops"] == 0 and r["mb_per_cam"] <= 80)
            print(f"  N={r['n']:>2}: goal (>= {want:g} fps every viewer, p95 < 100 ms, 0 recorder drops, "
                  f"<= 80 MB/camera) {'MET' if ok else 'NOT MET'}")


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min) on {os.cpu_count()} CPU(s)"


def orchestrate(opts) -> None:
    ns = [int(v) for v in opts.cameras.split(",") if v.strip()]
    asked = [b.strip() for b in opts.backend.split(",") if b.strip()]
    unknown = [b for b in asked if b not in BACKENDS]
    if unknown:
        raise SystemExit(f"unknown backend(s) {unknown}; choose from {', '.join(BACKENDS)}")
    backends = ["inprocess"] + [b for b in asked if b != "inprocess"]  # the baseline runs first
    print(f"all-on scale benchmark: {opts.size} sims at {opts.fps:g} fps, viewer + recording + {opts.detector} "
          f"detection per camera; {opts.seconds:g} s measured after {opts.warmup:g} s; {load()}", flush=True)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="ts-bench-scale-", ignore_cleanup_errors=True) as td:
        for backend in backends:
            why = backend_available(backend)
            if why:
                print(f"  {backend}: not run: {why}", flush=True)
                continue
            for n in ns:
                print(f"  running {backend} N={n} ...", flush=True)
                try:
                    rows.append(measure(opts, backend, n, Path(td)))
                except Exception as exc:  # noqa: BLE001 - report and go on with the other runs
                    print(f"  {backend} N={n} failed: {exc}", flush=True)
                    continue
                r = rows[-1]  # each run's figures as soon as they exist
                print("  " + json.dumps({"fps_min": min(r["fps"], default=None), "fps_median": statistics.median(
                    r["fps"]) if r["fps"] else None, **{k: round(v, 2) if isinstance(v, float) else v
                                                        for k, v in r.items() if k != "fps"}}), flush=True)
    print()
    print_table(rows, opts)
    print(f"\nafter the runs: {load()}")
    if opts.json:
        Path(opts.json).write_text(json.dumps(rows, indent=1))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", default="processes",
                    help=f"comma-separated worker backends ({', '.join(BACKENDS)}); inprocess always runs first")
    ap.add_argument("--cameras", default="4,8", help="comma-separated camera counts (default 4,8)")
    ap.add_argument("--seconds", type=float, default=8.0, help="measured seconds per run (default 8)")
    ap.add_argument("--warmup", type=float, default=4.0, help="seconds before measuring (default 4)")
    ap.add_argument("--detector", choices=["hotspot", "yolo"], default="hotspot")
    ap.add_argument("--weights", help="YOLO weights (.pt; its OpenVINO/ONNX export is used when present)")
    ap.add_argument("--database-url", help="PostgreSQL URL: each run gets a fresh schema (default: SQLite per run)")
    ap.add_argument("--fps", type=float, default=25.0)
    ap.add_argument("--size", default="640x512")
    ap.add_argument("--json", help="also write the raw results to this file")
    ap.add_argument("--ray-timeout", type=float, default=300.0,
                    help="seconds a ray run's cluster and server may take to come up (default 300)")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_ray_server"]:
        raise SystemExit(ray_server())
    opts = ap.parse_args(argv)
    if opts.detector == "yolo" and not opts.weights:
        ap.error("--detector yolo needs --weights")
    orchestrate(opts)


if __name__ == "__main__":
    main()
