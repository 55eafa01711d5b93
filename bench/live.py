"""Benchmark live video delivery: many simulated cameras, one viewer each.

    .venv/bin/python bench/live.py [--cameras 4,8,12,16] [--seconds 15] [--warmup 3]
                                   [--baseline-cameras 4,8] [--no-baseline] [--no-idle]

For every N in --cameras, N simulated 640x512 cameras at 25 fps run in a server that lives in
its own process (so psutil sees only server work), and three setups are measured one after the
other, each for --seconds after --warmup:

  capture   the cameras capture, nobody watches (the capture cost, included in every other row);
  ws        the app's way: /ws/video/{id} binary WebSocket (encode once per frame, latest-only per
            viewer); one viewer per camera, in a Python client process (tornado websocket_connect);
  panel     the naive Panel way (baseline): one pn.pane.JPG per camera whose ``.object`` is set to
            the new JPEG bytes by a 25 Hz periodic callback, viewed by headless Chromium (the
            Bokeh protocol needs a real client). Frames are counted in the page by
            MutationObservers on every shadow root (each update carries its capture time in the
            image's alt text, so latency is measured too).

Columns: fps/cam min/mean (frames received per camera per second, by the viewers), delivered
frames/s (all viewers), server CPU ms per delivered frame (all server threads: capture + encode
+ send), the same minus the capture-only CPU of that N (what delivery costs), server CPU %
(100 % = one core), capture-to-viewer latency p50/p95 (receive time minus the capture timestamp,
same machine clock; in the browser: when the new <img> lands in the DOM), server RSS, client CPU %
(client process tree) and host CPU % (all cores, 100 % = whole machine: the machine is shared).

Internal entry points (run by the benchmark itself): ``_server``, ``_wsclient``, ``_browser``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.serving import Proc, bench_token, free_port, serve_stats, tree_cpu  # after sys.path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def sim_url(i: int, fps: float, width: int, height: int) -> str:
    return f"sim://?people=3&seed={i + 1}&width={width}&height={height}&fps={fps:g}"


# --------------------------------------------------------------------------- server process


def run_server(args) -> None:
    """Runtime + N sim cameras + a server; prints READY, answers 'stats', stops at stdin EOF."""
    import logging

    logging.basicConfig(level=logging.WARNING)
    import panel as pn

    from thermalstream.config import Settings
    from thermalstream.runtime import Runtime

    width, height = (int(v) for v in args.size.split("x"))
    settings = Settings(data_dir=Path(args.data_dir), default_camera="", port=args.port, live_fps=args.fps,
                        detector="none", admin_password="bench admin password", bcrypt_rounds=4)
    runtime = Runtime.create(settings).start()
    token = bench_token(runtime)
    ids = [
        runtime.cameras.connect(sim_url(i, args.fps, width, height), f"sim {i}")["id"] for i in range(args.n)
    ]

    if args.mode == "panel":
        encoders = [runtime.encoder(cid) for cid in ids]
        for enc in encoders:  # keep the shared encoder threads running, as for the WebSocket viewers
            enc.add_listener(lambda frame: None)

        def baseline_app():
            panes, last = [], [-1] * len(ids)
            for i, enc in enumerate(encoders):
                f = enc.snapshot()
                panes.append(
                    pn.pane.JPG(
                        f.jpeg if f else None,
                        width=320,
                        height=256,
                        alt_text=f"cam{i}:{f.timestamp * 1000.0:.1f}" if f else None,
                    )
                )

            def update():  # the naive way: new bytes into .object on a periodic callback
                for i, enc in enumerate(encoders):
                    f = enc.snapshot()
                    if f is None or f.seq == last[i]:
                        continue
                    last[i] = f.seq
                    panes[i].param.update(object=f.jpeg, alt_text=f"cam{i}:{f.timestamp * 1000.0:.1f}")

            pn.state.add_periodic_callback(update, period=int(1000 / args.fps))
            return pn.FlexBox(*panes)

        server = pn.serve(
            {"baseline": baseline_app},
            port=args.port,
            address="127.0.0.1",
            websocket_origin=[f"127.0.0.1:{args.port}", f"localhost:{args.port}"],
            show=False,
            start=True,
            threaded=True,
            verbose=False,
        )
    else:
        from app.server import make_server

        server = make_server(runtime, port=args.port, threaded=True)

    def stats() -> dict:
        out = {}
        for cid in ids:
            cam = runtime.manager.get(cid)
            enc = runtime._encoders.get(cid)
            out[cid] = {"frames": cam.stats().frames if cam else 0, "encoded": enc.encoded if enc else 0}
        return out

    serve_stats(runtime, server, args.port, [json.dumps(ids, separators=(",", ":")), token], stats)


# --------------------------------------------------------------------------- WebSocket client process


def run_wsclient(args) -> None:
    """One viewer per camera; records (camera, receive ms, capture ms); prints READY, then waits for
    'T0 T1' on stdin and prints the results for that window."""
    import tornado.httpclient
    import tornado.websocket

    ids = [int(v) for v in args.ids.split(",")]
    headers = {"Authorization": f"Bearer {os.environ['BENCH_TOKEN']}"}  # from the server's READY line
    events: list[tuple[int, float, float]] = []
    conns = []

    async def viewer(i: int, cid: int, ready: asyncio.Event, counter: list[int]) -> None:
        request = tornado.httpclient.HTTPRequest(f"ws://127.0.0.1:{args.port}/ws/video/{cid}", headers=headers)
        conn = await tornado.websocket.websocket_connect(request, max_message_size=16 * 1024 * 1024)
        conns.append(conn)
        first = True
        while True:
            msg = await conn.read_message()
            if msg is None:
                return
            now = time.time() * 1000.0
            (captured,) = struct.unpack(">d", msg[:8])
            events.append((i, now, captured))
            if first:
                first = False
                counter[0] += 1
                if counter[0] == len(ids):
                    ready.set()

    async def main() -> None:
        ready, counter = asyncio.Event(), [0]
        tasks = [asyncio.ensure_future(viewer(i, cid, ready, counter)) for i, cid in enumerate(ids)]
        await asyncio.wait_for(ready.wait(), 60)
        print("READY", flush=True)
        line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        t0, t1 = (float(v) * 1000.0 for v in line.split())
        for t in tasks:
            t.cancel()
        for c in conns:
            c.close()
        window = [e for e in list(events) if t0 <= e[1] < t1]
        print("RESULT " + json.dumps(summarise(window, len(ids), (t1 - t0) / 1000.0)), flush=True)

    asyncio.run(main())


# --------------------------------------------------------------------------- browser client process

INIT_JS = r"""
(() => {
  const ev = [];
  const seen = new Set();
  window.__ev = ev;
  function record(img) {
    const alt = img.getAttribute && img.getAttribute('alt');
    if (!alt || !alt.startsWith('cam') || seen.has(alt)) return;
    seen.add(alt);
    const k = alt.indexOf(':');
    ev.push([+alt.slice(3, k), Date.now(), +alt.slice(k + 1)]);
  }
  function scan(node) {
    if (node.nodeType !== 1) return;
    if (node.tagName === 'IMG') record(node);
    if (node.querySelectorAll) node.querySelectorAll('img').forEach(record);
  }
  function observe(root) {
    new MutationObserver((muts) => {
      for (const m of muts) {
        if (m.type === 'attributes') scan(m.target);
        else m.addedNodes.forEach(scan);
      }
    }).observe(root, { childList: true, subtree: true, attributes: true, attributeFilter: ['src', 'alt'] });
  }
  const attach = Element.prototype.attachShadow;
  Element.prototype.attachShadow = function (init) {
    const root = attach.call(this, init);
    observe(root);
    return root;
  };
  observe(document);
})();
"""


def run_browser(args) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1600, "height": 1200})
        page.add_init_script(INIT_JS)
        page.goto(f"http://127.0.0.1:{args.port}/baseline", timeout=60_000)
        page.wait_for_function(
            f"new Set((window.__ev || []).map(e => e[0])).size >= {args.n}", timeout=60_000, polling=250
        )
        print("READY", flush=True)
        line = sys.stdin.readline()
        t0, t1 = (float(v) * 1000.0 for v in line.split())
        events = page.evaluate(f"window.__ev.filter(e => e[1] >= {t0} && e[1] < {t1})")
        browser.close()
    print(
        "RESULT " + json.dumps(summarise([tuple(e) for e in events], args.n, (t1 - t0) / 1000.0)), flush=True
    )


def summarise(events, n: int, seconds: float) -> dict:
    counts = [0] * n
    lat = []
    for cam, recv, captured in events:
        counts[int(cam)] += 1
        lat.append(recv - captured)
    lat.sort()

    def pct(q: float):
        return lat[min(len(lat) - 1, int(q * len(lat)))] if lat else None

    return {"frames": sum(counts), "fps": [c / seconds for c in counts], "p50": pct(0.50), "p95": pct(0.95)}


# --------------------------------------------------------------------------- orchestration


def measure(opts, mode: str, n: int, tmp: Path) -> dict:
    import psutil

    me = [sys.executable, str(Path(__file__).resolve())]
    port = free_port()
    server = Proc(
        me
        + [
            "_server",
            "--mode",
            "panel" if mode == "panel" else "ws",
            "--n",
            str(n),
            "--port",
            str(port),
            "--data-dir",
            str(tmp / f"{mode}-{n}"),
            "--fps",
            str(opts.fps),
            "--size",
            opts.size,
        ],
        "server",
    )
    client = None
    try:
        ready = server.expect("READY", 120).split(" ")
        ids = json.loads(ready[0])
        if len(ready) > 1:
            os.environ["BENCH_TOKEN"] = ready[1]  # inherited by the client process, not on its command line
        if mode == "ws":
            client = Proc(
                me + ["_wsclient", "--port", str(port), "--ids", ",".join(map(str, ids))], "ws client"
            )
        elif mode == "panel":
            client = Proc(me + ["_browser", "--port", str(port), "--n", str(n)], "browser")
        if client is not None:
            client.expect("READY", 120)
        time.sleep(opts.warmup)
        sp = psutil.Process(server.p.pid)
        cp = psutil.Process(client.p.pid) if client else None
        server.send("stats")
        s0 = json.loads(server.expect("STATS", 30))
        psutil.cpu_percent()
        t0, c0, k0 = time.time(), tree_cpu(sp), tree_cpu(cp) if cp else 0.0
        time.sleep(opts.seconds)
        t1, c1, k1 = time.time(), tree_cpu(sp), tree_cpu(cp) if cp else 0.0
        host = psutil.cpu_percent()
        rss = sp.memory_info().rss
        server.send("stats")
        s1 = json.loads(server.expect("STATS", 30))
        res = {"frames": 0, "fps": [], "p50": None, "p95": None}
        if client is not None:
            client.send(f"{t0!r} {t1!r}")
            res = json.loads(client.expect("RESULT", 60))
        dt = t1 - t0
        captured = sum(s1[k]["frames"] - s0[k]["frames"] for k in s1)
        encoded = sum(s1[k]["encoded"] - s0[k]["encoded"] for k in s1)
        return {
            "mode": mode,
            "n": n,
            "seconds": dt,
            "cpu_s": c1 - c0,
            "cpu_pct": 100 * (c1 - c0) / dt,
            "client_pct": 100 * (k1 - k0) / dt if cp else None,
            "host_pct": host,
            "rss_mb": rss / 2**20,
            "captured": captured,
            "encoded": encoded,
            **res,
        }
    finally:
        if client is not None:
            client.close()
        server.close()


def fmt(v, spec: str) -> str:
    if v is None:
        width = spec.split(".")[0]
        return "-".rjust(int(width)) if width.isdigit() else "-"
    return format(v, spec)


def print_table(rows: list[dict], idle: dict[int, dict], opts) -> None:
    head = (
        f"{'mode':<8}{'N':>3} {'fps/cam min':>11} {'mean':>5} {'deliv/s':>7} {'srv ms/frame':>12} "
        f"{'excl capt':>9} {'srv CPU%':>8} {'p50 ms':>7} {'p95 ms':>7} {'RSS MB':>7} {'client%':>7} "
        f"{'host%':>6} {'capt fps':>8}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        deliv = r["frames"] / r["seconds"]
        per = 1000 * r["cpu_s"] / r["frames"] if r["frames"] else None
        over = None
        base = idle.get(r["n"])
        if r["frames"] and base is not None and r["mode"] != "capture":
            over = 1000 * (r["cpu_s"] - base["cpu_s"] * r["seconds"] / base["seconds"]) / r["frames"]
        fps = r["fps"]
        print(
            f"{r['mode']:<8}{r['n']:>3} {fmt(min(fps) if fps else None, '11.1f')} "
            f"{fmt(statistics.mean(fps) if fps else None, '5.1f')} {deliv:7.0f} {fmt(per, '12.2f')} "
            f"{fmt(over, '9.2f')} {r['cpu_pct']:8.0f} {fmt(r['p50'], '7.0f')} {fmt(r['p95'], '7.0f')} "
            f"{r['rss_mb']:7.0f} {fmt(r['client_pct'], '7.0f')} {r['host_pct']:6.0f} "
            f"{r['captured'] / r['seconds'] / r['n']:8.1f}"
        )
    print()
    want = 0.95 * opts.fps
    for r in rows:
        if r["mode"] != "ws":
            continue
        ok = r["fps"] and min(r["fps"]) >= want and r["p95"] is not None and r["p95"] < 100
        print(
            f"goal (every camera >= {want:.2f} fps and p95 < 100 ms) at N={r['n']:>2} via WebSocket: "
            f"{'MET' if ok else 'NOT MET'} (min {min(r['fps']):.1f} fps, p95 {fmt(r['p95'], '.0f')} ms)"
        )


def encode_cost(opts, frames: int = 60) -> tuple[float, float]:
    """CPU ms to render one sim frame and to colourise + JPEG-encode it, measured in this process
    (the share of every row's server CPU that is not transport)."""
    from thermalstream.live.encoder import encode_jpeg
    from thermalstream.palettes import colourise
    from thermalstream.sources import make_source

    width, height = (int(v) for v in opts.size.split("x"))
    src = make_source(sim_url(0, opts.fps, width, height) + "&pace=0")
    src.open()
    try:
        fr = [src.read() for _ in range(5)]
        t = time.process_time()
        fr = [src.read() for _ in range(frames)]
        sim_ms = 1000 * (time.process_time() - t) / frames
        t = time.process_time()
        size = sum(len(encode_jpeg(colourise(f.image, "inferno"), 80)) for f in fr) / frames
        enc_ms = 1000 * (time.process_time() - t) / frames
    finally:
        src.close()
    return sim_ms, enc_ms, size


def orchestrate(opts) -> None:
    ns = [int(v) for v in opts.cameras.split(",") if v.strip()]
    bns = (
        set(ns)
        if opts.baseline_cameras is None
        else {int(v) for v in opts.baseline_cameras.split(",") if v.strip()}
    )
    if opts.no_baseline:
        bns = set()
    import psutil

    print(
        f"live delivery benchmark: {opts.size} sims at {opts.fps:g} fps, {opts.seconds:g} s per run after "
        f"{opts.warmup:g} s warm-up; {psutil.cpu_count()} CPU(s); python {sys.version.split()[0]}",
        flush=True,
    )
    sim_ms, enc_ms, size = encode_cost(opts)
    print(
        f"in-process reference per {opts.size} frame: sim render {sim_ms:.2f} ms CPU, palette + JPEG q80 "
        f"encode {enc_ms:.2f} ms CPU, JPEG {size / 1024:.1f} KiB",
        flush=True,
    )
    rows: list[dict] = []
    idle: dict[int, dict] = {}
    with tempfile.TemporaryDirectory(prefix="ts-bench-live-") as td:
        tmp = Path(td)
        for n in ns:
            modes = ([] if opts.no_idle else ["capture"]) + ["ws"] + (["panel"] if n in bns else [])
            for mode in modes:
                print(f"  running {mode:<7} N={n} ...", flush=True)
                try:
                    r = measure(opts, mode, n, tmp)
                except Exception as exc:  # noqa: BLE001 - report and go on with the other runs
                    print(f"  {mode} N={n} failed: {exc}", flush=True)
                    continue
                rows.append(r)
                if mode == "capture":
                    idle[n] = r
    print()
    print_table(rows, idle, opts)
    skipped = [n for n in ns if n not in bns]
    if skipped:
        print(f"browser baseline (panel) not run at N={','.join(map(str, skipped))} (--baseline-cameras)")
    if opts.json:
        Path(opts.json).write_text(json.dumps(rows, indent=1))


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("_server", "_wsclient", "_browser"):
        ap = argparse.ArgumentParser()
        ap.add_argument("role")
        ap.add_argument("--mode", default="ws")
        ap.add_argument("--n", type=int, default=1)
        ap.add_argument("--port", type=int, required=True)
        ap.add_argument("--data-dir")
        ap.add_argument("--fps", type=float, default=25.0)
        ap.add_argument("--size", default="640x512")
        ap.add_argument("--ids", default="")
        args = ap.parse_args(argv)
        {"_server": run_server, "_wsclient": run_wsclient, "_browser": run_browser}[args.role](args)
        return
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--cameras", default="4,8,12,16", help="comma-separated camera counts (default 4,8,12,16)"
    )
    ap.add_argument("--seconds", type=float, default=15.0, help="measured seconds per run (default 15)")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring (default 3)")
    ap.add_argument("--fps", type=float, default=25.0)
    ap.add_argument("--size", default="640x512")
    ap.add_argument(
        "--baseline-cameras",
        default=None,
        help="camera counts for the browser baseline (default: all of --cameras)",
    )
    ap.add_argument("--no-baseline", action="store_true", help="skip the Panel + Chromium baseline")
    ap.add_argument("--no-idle", action="store_true", help="skip the capture-only runs")
    ap.add_argument("--json", help="also write the raw results to this file")
    orchestrate(ap.parse_args(argv))


if __name__ == "__main__":
    main()
