"""What the bench server processes share: a free port, an admin token, and the READY/stats loop
their parent process talks to (bench/live.py, bench/detect_live.py, bench/idle.py, bench/scale.py)."""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Callable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_token(runtime) -> str:
    """An access token for the admin, so the viewers pass the server's login like any API client."""
    return runtime.auth.tokens.issue_pair(runtime.auth.users.get("admin"))["access_token"]


def serve_stats(runtime, server, port: int, ready: list[str], stats: Callable[[], dict],
                timeout: float = 30.0) -> None:
    """Wait until ``port`` answers, print ``READY`` and the ``ready`` fields, answer each ``stats``
    line on stdin with ``STATS`` and the JSON of ``stats()``; at stdin's end stop the server, then
    the runtime."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    print(" ".join(["READY", *ready]), flush=True)
    for line in sys.stdin:
        if line.strip() == "stats":
            print("STATS " + json.dumps(stats()), flush=True)
    try:
        server.stop()
    finally:
        runtime.shutdown()
