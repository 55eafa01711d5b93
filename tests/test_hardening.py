"""Issue 11, access items 8-14 over a real server: secrets masked everywhere, Markdown escaped,
lockout per user and address, sizes and ranges checked at the edge, HTTP hygiene (Retry-After,
Allow, logout, timeouts, bcrypt off the loop), a valid OpenAPI document, nothing leaked at rest."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from app import access
from tests.conftest import start_server, stop_server, wait_for

HUGE = "99999999999999999999999"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("hardening"), trusted_proxies="127.0.0.1/32")
    svc = server.runtime.auth.users
    for name, role in [("olga", "operator"), ("oscar", "operator"), ("vic", "viewer")]:
        svc.create(name, f"{name} has a long password", role)
    try:
        yield server
    finally:
        stop_server(server)


def raw(srv, method: str, path: str, data: bytes | None = None, headers: dict | None = None,
        as_user: str | None = "admin", timeout: float = 20.0):
    """(status, headers, parsed JSON or bytes) for a request with a raw body."""
    hdrs = {**srv.headers(as_user), "Content-Type": "application/json", **(headers or {})}
    req = urllib.request.Request(srv.base + path, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, out, head = resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as exc:
        status, out, head = exc.code, exc.read(), exc.headers
    return status, head, (json.loads(out) if "json" in head.get("Content-Type", "") and out else out)


def concrete(pattern: str, value: str) -> str:
    path = re.sub(r"\(\?P<action>[^)]*\)", "connect", pattern)
    path = re.sub(r"\(\?P<\w+>[^)]*\)", value, path)
    return path.replace("\\.", ".")


# --- 11: sizes and ranges at the edge ------------------------------------------------------------

def test_ids_beyond_the_integer_range_answer_404_not_500(srv):
    probed = 0
    for pattern, methods in access.ROUTES.items():
        if "(?P<" not in pattern or pattern.startswith("/ws/"):
            continue
        for method in methods:
            path = concrete(pattern, HUGE)
            status, body = srv.request(method, path, {} if method != "GET" else None)
            assert status == 404, f"{method} {path} answered {status}: {body!r}"
            probed += 1
    assert probed >= 10


def test_huge_numbers_in_queries_and_bodies_never_answer_500(srv):
    cid = srv.request("POST", "/api/cameras", {"name": "range", "url": "sim://?width=64&height=48&seed=5"})[1]["id"]
    queries = f"camera={HUGE}&limit={HUGE}&offset={HUGE}&x={HUGE}&y={HUGE}&since={HUGE}&until={HUGE}"
    body = {"camera_id": HUGE, "id": HUGE, "camera": int(HUGE), "name": "n", "protected": True,
            "start": "01:00", "end": "02:00", "days": [int(HUGE)], "enabled": True, "mode": "events"}
    seen = 0
    for pattern, methods in access.ROUTES.items():
        if pattern.startswith("/ws/") or "mjpeg" in pattern:
            continue
        path = concrete(pattern, str(cid) if "cid" in pattern else "1")
        for method in methods:
            if method == "DELETE" and "cid" in pattern:
                continue
            status, answer = srv.request(method, f"{path}?{queries}", body if method != "GET" else None)
            assert status < 500, f"{method} {path}?{queries[:40]}… answered {status}: {answer!r}"
            numeric = {k: int(HUGE) if isinstance(v, str) and v == HUGE else v for k, v in body.items()}
            if method != "GET":
                status, answer = srv.request(method, path, numeric)
                assert status < 500, f"{method} {path} with huge numbers answered {status}: {answer!r}"
            seen += 1
    assert seen > 20


@pytest.mark.parametrize("depth", [40, 100_000])
def test_deeply_nested_json_is_a_clear_400(srv, depth):
    nested = ("[" * depth + "]" * depth).encode()
    for path in ("/api/cameras", "/api/recording/start", "/api/schedule/create"):
        status, _, body = raw(srv, "POST", path, b'{"a": ' + nested + b"}")
        assert status == 400 and ("nested" in body["error"] or "JSON" in body["error"]), (path, status, body)


def test_oversized_bodies_are_refused_with_413(srv):
    status, _, body = raw(srv, "POST", "/api/cameras", json.dumps({"name": "x", "url": "sim://?" + "a" * (2 << 20)}).encode())
    assert status == 413, (status, body)


def test_camera_urls_are_limited_to_2048_characters(srv):
    long_url = "sim://?seed=1&pad=" + "a" * 5000
    status, body = srv.request("POST", "/api/cameras", {"name": "long", "url": long_url})
    assert status == 400 and "2048" in body["error"], (status, body)
    status, cams = srv.request("GET", "/api/cameras")
    assert status == 200 and all(len(c["url"]) <= 2048 for c in cams["cameras"])
    from thermalstream.sources.url import CameraURLError, parse_camera_url
    with pytest.raises(CameraURLError, match="2048"):
        parse_camera_url(long_url)


# --- 8: secrets in camera URLs are masked everywhere ----------------------------------------------

SECRET_QUERIES = ["access_token", "pw", "key", "token", "auth", "sig", "X-Amz-Signature", "apiKey", "session_id"]


@pytest.mark.parametrize("key", SECRET_QUERIES)
def test_masking_hides_every_secret_looking_query_value(key):
    from thermalstream.sources.url import mask_credentials, mask_text

    url = f"rtsp://cam.lab:554/stream?channel=1&{key}=TOPSECRET&fps=2"
    masked = mask_credentials(url)
    assert "TOPSECRET" not in masked and f"{key}=***" in masked and "channel=1" in masked and "fps=2" in masked
    assert "TOPSECRET" not in mask_text(f"cannot open {url}: 401 Unauthorized")
    assert mask_credentials("http://cam/x?keyint=3&monkey=1") == "http://cam/x?keyint=3&monkey=1"


def test_secret_query_values_never_reach_api_notifications_or_logs(srv, caplog):
    url = "http://127.0.0.1:9/snap.jpg?user=bob&access_token=TOPSECRET1&pw=TOPSECRET2&sig=TOPSECRET3"
    with caplog.at_level("DEBUG"):
        status, cam = srv.request("POST", "/api/cameras", {"name": "leaky", "url": url})
        assert status == 201, cam
        wait_for(lambda: srv.camera(cam["id"])["status"] in ("reconnecting", "failed"), what="camera to fail")
        time.sleep(0.5)
    listed = json.dumps(srv.request("GET", "/api/cameras")[1])
    notes = json.dumps(srv.runtime.notifications.list(srv.runtime.auth.users.get("admin")["id"], limit=500))
    assert "user=bob" in listed  # the URL is there, only its secrets are not
    for text in (listed, notes, json.dumps(srv.camera(cam["id"])), caplog.text):
        assert "TOPSECRET" not in text
    srv.request("DELETE", f"/api/cameras/{cam['id']}")


# --- 12: HTTP hygiene ---------------------------------------------------------------------------

def test_429_carries_retry_after(srv):
    srv.runtime.auth.users.create("rita", "rita has a long password", "viewer")
    answers = []
    for _ in range(7):
        status, head, body = raw(srv, "POST", "/api/auth/token", json.dumps(
            {"username": "rita", "password": "wrong password here"}).encode(), as_user=None)
        answers.append((status, head.get("Retry-After")))
        if status == 429:
            break
    assert answers[-1][0] == 429, answers
    assert answers[-1][1] is not None and int(answers[-1][1]) >= 1, answers


def test_405_names_the_allowed_methods(srv):
    for method, path in [("PUT", "/api/cameras"), ("DELETE", "/api/recordings"), ("PATCH", "/health")]:
        status, head, body = raw(srv, method, path, b"{}")
        assert status == 405, (method, path, status, body)
        allow = {m.strip() for m in (head.get("Allow") or "").split(",") if m.strip()}
        assert "GET" in allow and method not in allow, (path, head.get("Allow"))


def test_request_headers_time_out(srv):
    timeout = srv.runtime.settings.header_timeout_s
    assert timeout <= 30  # the default users get
    with socket.create_connection(("127.0.0.1", srv.port), timeout=timeout + 20) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finishes the headers
        started = time.monotonic()
        try:
            data = sock.recv(1024)  # b"" when the server closes the connection
        except TimeoutError:
            pytest.fail("the server kept a connection with unfinished headers open")
        assert data == b"" or b"408" in data or b"400" in data
        assert time.monotonic() - started < timeout + 15


@contextlib.contextmanager
def verify_threads(srv) -> Iterator[list[int]]:
    """The threads that check passwords while the block runs (the hasher's verify, spied on)."""
    users = srv.runtime.auth.users
    seen: list[int] = []
    verify = users.hasher.verify

    def spy(*args, **kwargs):
        seen.append(threading.get_ident())
        return verify(*args, **kwargs)

    users.hasher.verify = spy
    try:
        yield seen
    finally:
        users.hasher.verify = verify


def test_bcrypt_runs_off_the_event_loop(srv):
    """The server's IOLoop runs in ``srv.thread``; a password check there would stall every user."""
    with verify_threads(srv) as seen:
        status, _, _ = raw(srv, "POST", "/api/auth/token", json.dumps(
            {"username": "olga", "password": "olga has a long password"}).encode(), as_user=None)
    assert status == 200 and seen, (status, seen)
    assert srv.thread.ident not in seen


# --- 10: lockout per user and source, with backoff; admins unlock ---------------------------------

def _token_from(srv, user: str, password: str, source: str) -> int:
    return raw(srv, "POST", "/api/auth/token", json.dumps({"username": user, "password": password}).encode(),
               headers={"X-Forwarded-For": source}, as_user=None)[0]


def test_wrong_passwords_elsewhere_do_not_lock_the_admin_out(srv):
    codes = [_token_from(srv, "admin", f"wrong guess {i}", "198.51.100.7") for i in range(7)]
    assert codes[:5] == [401] * 5 and codes[-1] == 429, codes
    assert _token_from(srv, "admin", "correct horse battery staple", "198.51.100.7") == 429  # that source is locked
    assert _token_from(srv, "admin", "correct horse battery staple", "192.0.2.10") == 200  # the admin is not
    srv.runtime.auth.users.unlock("admin")  # what the CLI and the Users page call
    assert _token_from(srv, "admin", "correct horse battery staple", "198.51.100.7") == 200


# --- 14: nothing leaked at rest or to anonymous callers -------------------------------------------

def test_public_health_is_trimmed_and_admins_get_the_details(srv):
    status, public = srv.request("GET", "/health", as_user=None)
    assert status == 200 and set(public) <= {"status", "reason"} and public["status"] == "ok", public
    status, viewer = srv.request("GET", "/health", as_user="vic")
    assert set(viewer) <= {"status", "reason"}, viewer
    status, admin = srv.request("GET", "/health")
    assert status == 200 and {"version", "cameras", "uptime_s"} <= set(admin)
    cams = json.dumps(srv.request("GET", "/api/cameras", as_user="vic")[1])
    host_pid = f"{socket.gethostname()}:{__import__('os').getpid()}"
    assert host_pid not in cams and "worker_id" not in cams
    assert host_pid not in json.dumps(public) + json.dumps(viewer)


def test_data_files_are_private(srv):
    import stat

    data = srv.runtime.settings.data_dir
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("thermalstream.db", ".cookie_secret", ".credentials_key"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name
    made = data / "recordings" / "probe.bin"  # anything made later (recordings, exports) is private too
    made.parent.mkdir(parents=True, exist_ok=True)
    made.write_bytes(b"x")
    assert stat.S_IMODE(made.stat().st_mode) == 0o600
    made.unlink()


def test_camera_credentials_are_encrypted_at_rest(srv):
    import sqlite3

    url = "rtsp://cam:PASSWORD123@127.0.0.1:9/live?channel=2&token=TOKEN456"
    status, cam = srv.request("POST", "/api/cameras", {"name": "sealed", "url": url})
    assert status == 201, cam
    with sqlite3.connect(srv.runtime.settings.data_dir / "thermalstream.db") as conn:
        stored = conn.execute("SELECT url FROM cameras WHERE id = ?", (cam["id"],)).fetchone()[0]
    assert "PASSWORD123" not in stored and "TOKEN456" not in stored and "enc1." in stored
    assert "127.0.0.1:9/live?channel=2" in stored  # only the secrets are sealed
    assert srv.runtime.manager.get(cam["id"]).url.raw == url  # the camera itself connects with them
    srv.request("DELETE", f"/api/cameras/{cam['id']}")


def test_clear_rows_from_before_are_read_and_sealed(tmp_path):
    import sqlite3

    from thermalstream.config import Settings
    from thermalstream.db import Database, repo

    settings = Settings(data_dir=tmp_path / "data", default_camera="")
    Database.create(settings).dispose()
    url = "http://viewer:OLDSECRET@127.0.0.1:9/snap.jpg?pw=OLDPW"
    with sqlite3.connect(settings.data_dir / "thermalstream.db") as conn:  # a row as the old code wrote it
        conn.execute("INSERT INTO cameras (name, url, kind, enabled, status, settings, radiometric, created_at, "
                     "updated_at) VALUES ('old', ?, 'http', 1, 'stopped', '{}', 0, '2026-01-01 00:00:00', "
                     "'2026-01-01 00:00:00')", (url,))
    db = Database.create(settings)
    try:
        with db.session() as s:
            assert [c.url for c in repo.list_cameras(s)] == [url]
    finally:
        db.dispose()
    with sqlite3.connect(settings.data_dir / "thermalstream.db") as conn:
        stored = conn.execute("SELECT url FROM cameras").fetchone()[0]
    assert "OLDSECRET" not in stored and "OLDPW" not in stored


# --- 13: a valid OpenAPI 3.0.3 document with security and response schemas ------------------------

def _walk(node):
    yield node
    if isinstance(node, dict):
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def test_openapi_document_is_valid_and_complete(srv):
    from openapi_spec_validator import OpenAPIV30SpecValidator

    status, spec = srv.request("GET", "/api/openapi.json", as_user=None)
    assert status == 200 and spec["openapi"] == "3.0.3"
    errors = [f"{list(e.path)}: {e.message[:200]}" for e in OpenAPIV30SpecValidator(spec).iter_errors()]
    assert not errors, errors[:5]
    for node in _walk(spec):
        if isinstance(node, dict) and "exclusiveMinimum" in node:
            assert isinstance(node["exclusiveMinimum"], bool), node
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["scheme"] == "bearer" and schemes["cookieAuth"]["in"] == "cookie"
    assert {"bearerAuth": []} in spec["security"]
    from app.handlers.openapi import openapi_path

    patterns = {openapi_path(p): methods for p, methods in access.ROUTES.items()}
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for code, resp in op["responses"].items():
                if code not in ("204", "304") and not code.startswith("3"):
                    assert resp.get("content"), f"{method} {path} {code} has no schema"
            if patterns[path].get(method.upper()) == access.PUBLIC:
                assert op.get("security") == [], f"{method} {path} is public"
            else:
                assert "security" not in op and {"401", "403"} <= set(op["responses"]), f"{method} {path}"


def test_unknown_api_paths_answer_json_404(srv):
    for method, path in [("GET", "/api/cameras/-1"), ("PUT", "/api/nothing/here"), ("DELETE", "/api/cameras/x")]:
        status, head, body = raw(srv, method, path, b"{}" if method != "GET" else None)
        assert status == 404 and "json" in head["Content-Type"] and body["status"] == 404, (method, path, body)


# --- 9: user text in Markdown panes renders as text -----------------------------------------------

EVIL = "![x](http://attacker.example/pixel.png) <img src=x onerror=alert(1)> [click](http://attacker.example)"


def _rendered(pane) -> str:
    """The HTML a Markdown or Alert pane sends to the browser."""
    import html as _html

    return _html.unescape(pane._transform_object(pane.object)["object"])


def _assert_inert(markup: str) -> None:
    assert "<img" not in markup and "<a " not in markup and "attacker.example/pixel.png" in markup, markup


def test_markdown_escape_helper():
    import panel as pn

    from app.views.text import md_escape

    _assert_inert(_rendered(pn.pane.Markdown(md_escape(EVIL))))
    assert _rendered(pn.pane.Markdown(md_escape("Schedule “night shift” saved."))).count("night shift") == 1


def test_schedule_names_and_errors_render_as_text_in_confirmations(srv):
    from app.views.schedules import SchedulesPage
    from app.views.storage import growth_text
    from app.views.users import UsersPage

    page = SchedulesPage(srv.runtime)
    page._ok(f"Schedule “{EVIL}” created.")
    _assert_inert(_rendered(page.alert))
    page._error(f"Could not save: {EVIL}")
    _assert_inert(_rendered(page.alert))
    users = UsersPage(srv.runtime)
    users._say(f"user {EVIL} deleted")
    _assert_inert(_rendered(users.message))
    import panel as pn
    text = growth_text({"cameras": {1: 1e9}, "window_h": 24, "total_per_day": 1e9, "days_to_disk_full": 3.0,
                        "days_to_size_limit": None}, {1: EVIL})
    _assert_inert(_rendered(pn.pane.Markdown(text)))


# --- 12 (cont.): another site cannot log a user out -----------------------------------------------

def _login_cookie(srv, username: str, password: str) -> str:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=20)
    conn.request("POST", "/login", f"username={username}&password={password.replace(' ', '+')}",
                 {"Content-Type": "application/x-www-form-urlencoded", "Origin": srv.base})
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 302, resp.status
    [cookie] = [v.split(";", 1)[0] for k, v in resp.getheaders() if k.lower() == "set-cookie" and v.startswith("user=")]
    return cookie


def _logout(srv, method: str, cookie: str, **headers) -> int:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.request(method, "/logout", "" if method == "POST" else None, {"Cookie": cookie, **headers})
    resp = conn.getresponse()
    resp.read()
    return resp.status


def test_logout_cannot_be_triggered_from_another_site(srv):
    cookie = _login_cookie(srv, "oscar", "oscar has a long password")

    def signed_in() -> bool:
        return srv.request("GET", "/api/cameras", as_user=None, headers={"Cookie": cookie})[0] == 200

    assert signed_in()
    assert _logout(srv, "GET", cookie, Referer="https://attacker.example/page") == 200  # a button, no logout
    assert _logout(srv, "GET", cookie) == 200  # no Referer (an <img src=/logout>): the same
    assert _logout(srv, "POST", cookie, Origin="https://attacker.example") == 403
    assert signed_in()
    assert _logout(srv, "POST", cookie, Origin=srv.base) == 302  # the button on our own page
    assert not signed_in()
    cookie = _login_cookie(srv, "oscar", "oscar has a long password")
    assert _logout(srv, "GET", cookie, Referer=srv.base + "/live") == 302  # the menu link
    assert not signed_in()


def test_login_form_checks_passwords_off_the_event_loop(srv):
    with verify_threads(srv) as seen:
        _login_cookie(srv, "olga", "olga has a long password")
    assert seen and srv.thread.ident not in seen


def test_unicode_digits_are_not_ids(srv):
    """"²".isdigit() is true in Python, and int("²") raises: found by schemathesis (a 500)."""
    for method, path, body in [("POST", "/api/schedule/delete", {"id": "²"}), ("POST", "/api/schedule/update", {"id": "²"}),
                               ("GET", "/api/schedules?camera=%C2%B2", None), ("GET", "/api/recordings?camera=%C2%B2", None),
                               ("POST", "/api/recording/start", {"camera_id": "²"})]:
        status, answer = srv.request(method, path, body)
        assert 400 <= status < 500, (method, path, status, answer)


def test_old_rows_with_huge_urls_are_shown_cut(srv):
    from thermalstream.db import repo

    with srv.runtime.db.session() as s:  # as an older version could save it
        cam = repo.add_camera(s, "huge", "sim://?seed=1&pad=" + "a" * 100_000, kind="sim", enabled=False)
        cid = cam.id
    listed = srv.request("GET", "/api/cameras")[1]["cameras"]
    assert all(len(c["url"]) <= 2049 for c in listed)
    assert any(c["id"] == cid for c in listed)
    srv.request("DELETE", f"/api/cameras/{cid}")
