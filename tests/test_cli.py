"""The command line, run as a user would: separate processes on a temporary data directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request

from tests.conftest import free_port, wait_for

EXE = [sys.executable, "-m", "thermalstream.cli"]


def run(args, env, **kw):
    return subprocess.run(EXE + args, env=env, capture_output=True, text=True, timeout=60, **kw)


def env_for(tmp_path, **extra):
    env = dict(os.environ, THERMALSTREAM_DATA_DIR=str(tmp_path / "data"), **extra)
    env.pop("THERMALSTREAM_DATABASE_URL", None)
    return env


def test_db_upgrade_and_cameras_add_list(tmp_path):
    env = env_for(tmp_path)
    r = run(["db", "upgrade"], env)
    assert r.returncode == 0, r.stderr
    from thermalstream.db import head_revision

    assert f"revision {head_revision()}" in r.stdout
    r = run(["cameras", "add", "rtsp://admin:pw@127.0.0.1:8554/live", "--name", "gate"], env)
    assert r.returncode == 0, r.stderr and "added camera 1" in r.stdout
    assert "pw@" not in r.stdout + r.stderr
    r = run(["cameras", "list", "--json"], env)
    rows = json.loads(r.stdout)
    assert [(c["name"], c["url"], c["kind"]) for c in rows] == [("gate", "rtsp://admin:***@127.0.0.1:8554/live", "rtsp")]
    r = run(["cameras", "add", "ftp://x"], env)
    assert r.returncode == 2 and "unsupported scheme" in r.stderr


def test_serve_starts_default_camera_and_stops_on_sigterm(tmp_path):
    port = free_port()
    env = env_for(tmp_path, THERMALSTREAM_PORT=str(port), THERMALSTREAM_DEFAULT_CAMERA="sim://?width=160&height=128",
                  THERMALSTREAM_ADMIN_PASSWORD="correct horse battery staple", THERMALSTREAM_BCRYPT_ROUNDS="4")
    proc = subprocess.Popen(EXE + ["serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def health():  # the details are for admins (anonymous callers get the status only)
            base = f"http://127.0.0.1:{port}"
            try:
                login = urllib.request.Request(base + "/api/auth/token", method="POST", data=json.dumps(
                    {"username": "admin", "password": "correct horse battery staple"}).encode(),
                    headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(login, timeout=5) as r:
                    token = json.loads(r.read())["access_token"]
                req = urllib.request.Request(base + "/health", headers={"Authorization": f"Bearer {token}"})
                with urllib.request.urlopen(req, timeout=2) as r:
                    return json.loads(r.read())
            except OSError:
                return None

        h = wait_for(lambda: (lambda x: x if x and x["cameras"]["active"] == 1 else None)(health()), timeout=40,
                     what="server with its default camera live")
        assert h["database"] == "sqlite"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    out = proc.stdout.read()
    assert f"http://127.0.0.1:{port}" in out and "Traceback" not in out
    rows = json.loads(run(["cameras", "list", "--json"], env).stdout)
    assert rows[0]["name"] == "Simulated thermal camera"


def test_two_servers_side_by_side(tmp_path):
    from tests.conftest import start_server, stop_server

    a = start_server(tmp_path / "a")
    b = start_server(tmp_path / "b")
    try:
        assert a.request("POST", "/api/cameras", {"url": "sim://?seed=1&width=160&height=128"})[0] == 201
        assert [c["name"] for c in a.request("GET", "/api/cameras")[1]["cameras"]] == ["Simulated thermal camera"]
        assert b.request("GET", "/api/cameras")[1]["cameras"] == []
        assert a.runtime.settings.db_url != b.runtime.settings.db_url
    finally:
        stop_server(a)
        stop_server(b)


def test_models_export_with_real_weights(tmp_path):
    import shutil

    from tests.weights import fall_weights

    weights = tmp_path / "models" / "fall.pt"
    weights.parent.mkdir()
    shutil.copy(fall_weights(), weights)
    env = env_for(tmp_path, THERMALSTREAM_MODEL=str(weights))
    r = subprocess.run(EXE + ["models", "export", "--backend", "onnx", "--frame-shape", "256", "320"], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    onnx = [p for p in weights.parent.iterdir() if p.suffix == ".onnx"]
    assert len(onnx) == 1 and onnx[0].stat().st_size > 1_000_000 and str(onnx[0]) in r.stdout

    missing = env_for(tmp_path, THERMALSTREAM_MODEL=str(tmp_path / "nope.pt"))
    r = subprocess.run(EXE + ["models", "export"], env=missing, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "nope.pt" in r.stderr and "THERMALSTREAM_MODEL" in r.stderr
