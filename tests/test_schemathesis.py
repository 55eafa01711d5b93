"""schemathesis against the served OpenAPI document of a real server, as an admin with a token:
no operation may answer 5xx, and every answer must match the schema the document gives for it.

Bounded: at most ``MAX_EXAMPLES`` cases per operation and ``MAX_TIME_S`` for the whole run. A
fixed seed makes a failure reproducible (the report names the case and a curl command).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import start_server, stop_server, wait_for

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 15
MAX_TIME_S = 140
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance,status_code_conformance"


@pytest.fixture
def fuzz_server(tmp_path):
    srv = start_server(tmp_path)
    try:
        yield srv
    finally:
        stop_server(srv)


def seed(srv) -> None:
    """Real objects, so answers with bodies (not only 404s) are checked against their schemas."""
    status, cam = srv.request("POST", "/api/cameras", {"name": "fuzz", "url": "sim://?width=64&height=48&fps=5"})
    assert status == 201, cam
    wait_for(lambda: srv.camera(cam["id"])["status"] == "live", what="seed camera live")
    assert srv.request("POST", "/api/recording/start", {"camera_id": cam["id"]})[0] == 201
    time.sleep(2)
    assert srv.request("POST", "/api/recording/stop", {"camera_id": cam["id"]})[0] == 200
    status, sched = srv.request("POST", "/api/schedule/create", {"camera_id": cam["id"], "name": "night",
                                                                 "start_time": "01:00", "stop_time": "02:00"})
    assert status == 201, sched


def test_the_api_holds_against_schemathesis(fuzz_server, tmp_path):
    srv = fuzz_server
    seed(srv)
    cmd = [
        str(SCHEMATHESIS), "run", f"{srv.base}/api/openapi.json",
        "-H", f"Authorization: Bearer {srv.token('admin')}",
        "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES), "--max-time", str(MAX_TIME_S),
        "--phases", "examples,coverage,fuzzing", "--workers", "1", "--seed", "11",
        "--generation-database", "none", "--request-timeout", "20", "--no-color",
        "--output-truncate", "true", "--suppress-health-check", "all",
        # an MJPEG stream never ends: a case would only wait for its timeout
        "--exclude-path-regex", "/mjpeg$",
    ]
    env = dict(os.environ, NO_COLOR="1")
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=MAX_TIME_S + 60, env=env, cwd=tmp_path)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-12000:]
    assert "passed" in out.lower(), out[-3000:]
