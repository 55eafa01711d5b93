"""Both ends of the bench's child processes (bench/live.py, bench/detect_live.py, bench/idle.py,
bench/scale.py): a free port and an admin token for a server, the READY/stats loop it answers
(:func:`serve_stats`), and the parent's side of it (:class:`Proc`, :func:`tree_cpu`)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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


class Proc:
    """A child process speaking lines on stdin/stdout."""

    def __init__(self, argv: list[str], what: str) -> None:
        self.what = what
        self.p = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT, bufsize=1
        )
        self._lines: list[str] = []
        self._cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.p.stdout:
            with self._cv:
                self._lines.append(line.rstrip("\n"))
                self._cv.notify_all()
        with self._cv:
            self._lines.append("EOF")
            self._cv.notify_all()

    def expect(self, prefix: str, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for j, line in enumerate(self._lines):
                    if line.startswith(prefix):
                        del self._lines[: j + 1]
                        return line[len(prefix) :].strip()
                    if line == "EOF":
                        raise RuntimeError(f"{self.what} exited (rc={self.p.poll()}) before {prefix!r}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.what}: no {prefix!r} within {timeout:.0f} s")
                self._cv.wait(left)

    def send(self, text: str) -> None:
        self.p.stdin.write(text + "\n")
        self.p.stdin.flush()

    def close(self, timeout: float = 15) -> None:
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.terminate()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()


def tree_cpu(proc) -> float:
    """CPU seconds of a process and its live children."""
    import psutil

    total = 0.0
    for q in [proc, *proc.children(recursive=True)]:
        try:
            t = q.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total
