"""Server CPU of idle dashboard sessions: what open but untouched browser tabs cost.

    .venv/bin/python bench/idle.py [--sessions 10] [--seconds 30] [--pages /,/detections,/thermal]

The server runs as ``thermalstream serve`` in its own process with the embedded default (SQLite
and one simulated thermal camera), so psutil sees only server work. For each page, headless
Chromium opens --sessions tabs on it, logged in as the admin, waits until each has rendered, and
the server's CPU time is read over --seconds while nobody touches anything. The baseline,
measured in the same run on the same server, is the same period with no tab open (capture,
recording and detection of the default camera). Columns: server CPU % (100 % = one core) with
the tabs open, the same minus the baseline (what the idle sessions cost), and per session.
The machine is shared: read the baseline beside the figures, and compare runs made at the same
load (``uptime`` is printed).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.serving import free_port  # after sys.path

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
PASSWORD = "bench-idle-password-1"


def start_server(tmp: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, THERMALSTREAM_DATA_DIR=str(tmp / "data"), THERMALSTREAM_PORT=str(port),
               THERMALSTREAM_ADMIN_PASSWORD=PASSWORD, THERMALSTREAM_BCRYPT_ROUNDS="4")
    proc = subprocess.Popen([sys.executable, "-m", "thermalstream", "serve"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=open(tmp / "server.log", "wb"))
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300  # a loaded 2-core machine can take minutes
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(base + "/health", timeout=2).status == 200:
                return proc, base
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("server did not start:\n" + (tmp / "server.log").read_text()[-3000:])


def cpu_percent(proc: psutil.Process, seconds: float) -> float:
    t0, c0 = time.monotonic(), sum(proc.cpu_times()[:2])
    time.sleep(seconds)
    return 100 * (sum(proc.cpu_times()[:2]) - c0) / (time.monotonic() - t0)


def open_tabs(context, base: str, page: str, n: int) -> list:
    tabs = []
    for _ in range(n):
        tab = context.new_page()
        tab.goto(base + page, wait_until="load", timeout=60000)
        tab.wait_for_selector(".bk-root, .bk-Column, [data-root-id]", state="attached", timeout=60000)
        tabs.append(tab)
    return tabs


def login(context, base: str) -> None:
    tab = context.new_page()
    tab.goto(base + "/login")
    tab.fill("#username", "admin")
    tab.fill("#password", PASSWORD)
    tab.click("button[type=submit]")
    tab.wait_for_url(lambda url: "/login" not in url, timeout=30000)
    tab.close()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--settle", type=float, default=5, help="seconds after the tabs load before measuring")
    ap.add_argument("--pages", default="/,/detections,/thermal,/notifications")
    opts = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    print("load average:", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    with tempfile.TemporaryDirectory() as tmpdir:
        server, base = start_server(Path(tmpdir))
        ps = psutil.Process(server.pid)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                login(context, base)
                time.sleep(opts.settle)
                base_cpu = cpu_percent(ps, opts.seconds)
                print(f"baseline (no tab open): server CPU {base_cpu:.1f} %")
                print(f"{'page':<16}{'tabs':>5}{'CPU %':>9}{'- baseline':>12}{'per tab':>10}")
                for page in opts.pages.split(","):
                    tabs = open_tabs(context, base, page, opts.sessions)
                    time.sleep(opts.settle)
                    cpu = cpu_percent(ps, opts.seconds)
                    extra = cpu - base_cpu
                    print(f"{page:<16}{len(tabs):>5}{cpu:>9.1f}{extra:>12.1f}{extra / len(tabs):>10.2f}")
                    for tab in tabs:
                        tab.close()
                    time.sleep(2)
                browser.close()
        finally:
            server.terminate()
            try:
                server.wait(60)
            except subprocess.TimeoutExpired:
                print("server did not stop within 60 s of SIGTERM: killed")
                server.kill()


if __name__ == "__main__":
    main()
