"""Shared fixtures: a real server on loopback with its own data directory."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from thermalstream.config import Settings
from thermalstream.runtime import Runtime

pytest_plugins = ["tests.db_fixtures"]  # db, db_url (SQLite and PostgreSQL), pg_url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def wait_for(predicate: Callable[[], object], timeout: float = 15.0, interval: float = 0.1, what: str = "condition"):
    """Poll until ``predicate()`` is truthy; return its value or fail with ``what``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (last value: {last!r})")


@contextmanager
def tmpfs(mnt, size: str):
    """A size-limited tmpfs of the test's own at ``mnt`` (root only); skips where mounting is not allowed."""
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True,
                       check=False)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


ADMIN_PASSWORD = "correct horse battery staple"


@dataclass
class Server:
    runtime: Runtime
    port: int
    thread: object
    tokens: dict = field(default_factory=dict)  # username -> access token

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def token(self, username: str = "admin") -> str:
        """An access token for ``username`` (made directly with the server's TokenService)."""
        if username not in self.tokens:
            user = self.runtime.auth.users.get(username)
            self.tokens[username] = self.runtime.auth.tokens.issue_pair(user)["access_token"]
        return self.tokens[username]

    def headers(self, as_user: str | None = "admin") -> dict:
        return {"Authorization": f"Bearer {self.token(as_user)}"} if as_user else {}

    def open(self, path: str, as_user: str | None = "admin", timeout: float = 10.0, headers: dict | None = None):
        """urlopen ``path`` as ``as_user`` (None: anonymously)."""
        req = urllib.request.Request(self.base + path, headers={**self.headers(as_user), **(headers or {})})
        return urllib.request.urlopen(req, timeout=timeout)

    def ws(self, path: str, as_user: str | None = "admin", timeout: float = 10.0, **kw):
        """A websocket-client connection to ``path`` (same origin) as ``as_user``."""
        import websocket

        header = [f"{k}: {v}" for k, v in self.headers(as_user).items()]
        kw.setdefault("origin", self.base)
        return websocket.create_connection(f"ws://127.0.0.1:{self.port}{path}", timeout=timeout, header=header, **kw)

    def request(self, method: str, path: str, body: dict | None = None, timeout: float = 10.0,
                as_user: str | None = "admin", headers: dict | None = None):
        """(status, parsed JSON or raw bytes), sent with ``as_user``'s Bearer token (None: anonymous)."""
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {**self.headers(as_user), **({"Content-Type": "application/json"} if data else {}), **(headers or {})}
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, raw, ctype = resp.status, resp.read(), resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            status, raw, ctype = exc.code, exc.read(), exc.headers.get("Content-Type", "")
        return status, (json.loads(raw) if "json" in ctype and raw else raw)

    def camera(self, cid: int) -> dict:
        status, body = self.request("GET", f"/api/cameras/{cid}")
        assert status == 200, body
        return body


def start_server(tmp_path, **settings) -> Server:
    port = free_port()
    settings.setdefault("detector", "hotspot")  # YOLO has its own tests; servers here need no torch import
    settings.setdefault("admin_password", ADMIN_PASSWORD)
    settings.setdefault("bcrypt_rounds", 4)  # fast hashing in tests; the product default is 12
    cfg = Settings(data_dir=tmp_path / "data", port=port, default_camera="", **settings)
    runtime = Runtime.create(cfg).start()
    from app.server import make_server

    thread = make_server(runtime, port=port, threaded=True)
    srv = Server(runtime, port, thread)
    wait_for(lambda: _up(srv), what="server to answer /health")
    return srv


def _up(srv: Server) -> bool:
    try:
        return srv.request("GET", "/health", timeout=2)[0] == 200
    except OSError:
        return False


def stop_server(srv: Server) -> None:
    srv.thread.stop()
    srv.runtime.shutdown()


@pytest.fixture
def server(tmp_path) -> Iterator[Server]:
    srv = start_server(tmp_path)
    try:
        yield srv
    finally:
        stop_server(srv)


def login(page, server: Server, username: str = "admin", password: str = ADMIN_PASSWORD) -> None:
    """Log a Playwright page in through the real login form."""
    page.goto(server.base + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url, timeout=20000)
