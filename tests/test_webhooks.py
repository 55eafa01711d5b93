"""Webhooks (issue 13): signed JSON POSTs of real events to a receiver on loopback, retries with
backoff, the delivery log, admins only; SQLite and PostgreSQL for the log's retention."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import defaultdict
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select, text

from tests.conftest import start_server, stop_server, wait_for
from tests.test_ui import page  # noqa: F401 - the Chromium page fixture
from thermalstream.db.models import User, Webhook
from thermalstream.integrations import webhook_store as store
from thermalstream.integrations.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature,
    verify,
)

SECRET = "s3cret-for-the-receiver-only"
PW = "correct horse battery staple 13"
SIM = "sim://?people=1&vehicle=0&animal=0&seed=10&width=320&height=256"


class Receiver:
    """An HTTP server on loopback that records every POST; answers 500 to the first ``fail``
    attempts of each delivery, then 200; ``/moved`` answers a redirect."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.requests: list[dict] = []
        self.attempts: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                delivery = self.headers.get(DELIVERY_HEADER, "")
                with outer.lock:
                    outer.attempts[delivery] += 1
                    n = outer.attempts[delivery]
                    outer.requests.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                           "at": time.monotonic(), "n": n})
                if self.path == "/moved":
                    self.send_response(302)
                    self.send_header("Location", f"http://127.0.0.1:{outer.port}/elsewhere")
                    self.end_headers()
                    return
                status = 500 if n <= outer.fail else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"boom" if status == 500 else b"thanks")

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self, event_type: str | None = None) -> list[dict]:
        with self.lock:
            reqs = list(self.requests)
        return [r for r in reqs if event_type is None or r["headers"].get(EVENT_HEADER) == event_type]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    r = Receiver(fail=2)
    yield r
    r.close()


@pytest.fixture
def srv(tmp_path):
    s = start_server(tmp_path, hotspot_threshold_c=26.0)
    for name, role in (("olga", "operator"), ("vera", "viewer")):
        s.runtime.auth.users.create(name, PW, role)
    try:
        yield s
    finally:
        stop_server(s)


def test_signature_covers_timestamp_and_body_and_refuses_bad_secrets():
    body = b'{"type":"camera.status"}'
    now = int(time.time())
    headers = {TIMESTAMP_HEADER: str(now), SIGNATURE_HEADER: signature(SECRET, str(now), body)}
    assert headers[SIGNATURE_HEADER].startswith("sha256=") and len(headers[SIGNATURE_HEADER]) == 7 + 64
    assert verify(SECRET, body, headers)
    assert not verify("another secret of enough length", body, headers)
    assert not verify(SECRET, body + b" ", headers)
    replay = {TIMESTAMP_HEADER: str(now - 301), SIGNATURE_HEADER: signature(SECRET, str(now - 301), body)}
    assert not verify(SECRET, body, replay)  # signed correctly, but too old
    moved = {**headers, TIMESTAMP_HEADER: str(now + 1)}
    assert not verify(SECRET, body, moved)  # the timestamp is signed too


def test_a_real_camera_status_arrives_signed_after_two_500s_with_backoff(srv, receiver):
    status, hook = srv.request("POST", "/api/webhooks", {"url": receiver.url(), "event_types": ["camera.status"],
                                                         "secret": SECRET, "name": "lab receiver"})
    assert status == 201 and hook["secret"] == SECRET and hook["scope"] == "global", hook
    cid = srv.request("POST", "/api/cameras", {"url": SIM})[1]["id"]

    def live_delivery():
        for r in receiver.bodies("camera.status"):
            payload = json.loads(r["body"])
            if payload["status"] == "live" and r["n"] == 3:
                return r
        return None

    got = wait_for(live_delivery, timeout=30, what="the 'live' status after two refusals")
    payload = json.loads(got["body"])
    assert payload["camera_id"] == cid and payload["type"] == "camera.status" and payload["version"] == 1
    delivery = got["headers"][DELIVERY_HEADER]
    tries = [r for r in receiver.bodies() if r["headers"][DELIVERY_HEADER] == delivery]
    assert [r["n"] for r in tries] == [1, 2, 3]
    for r in tries:  # every attempt is signed with the secret; another secret does not verify
        assert r["body"] == got["body"]
        assert verify(SECRET, r["body"], r["headers"])
        assert not verify("not the secret at all!!", r["body"], r["headers"])
    gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(tries)]
    assert 0.9 <= gaps[0] <= 3.5 and 1.9 <= gaps[1] <= 6.0, gaps  # default backoff: [1, 2] s, then [2, 4] s

    def logged():
        rows = srv.request("GET", f"/api/webhooks/{hook['id']}/deliveries")[1]["deliveries"]
        mine = sorted((d for d in rows if d["delivery"] == delivery), key=lambda d: d["attempt"])
        return mine if len(mine) == 3 else None

    log = wait_for(logged, timeout=10, what="three attempts in the delivery log")
    assert [d["attempt"] for d in log] == [1, 2, 3]
    assert [d["status_code"] for d in log] == [500, 500, 200]
    assert [d["ok"] for d in log] == [False, False, True]
    assert log[0]["error"] == "HTTP 500 Internal Server Error" and log[0]["response_excerpt"] == "boom"
    assert log[0]["next_attempt_at"] and log[1]["next_attempt_at"] and log[2]["next_attempt_at"] is None
    assert all(d["duration_ms"] >= 0 and d["event_type"] == "camera.status" for d in log)
    assert datetime.fromisoformat(log[0]["at"]) < datetime.fromisoformat(log[2]["at"])
    with srv.runtime.db.engine.connect() as conn:  # sealed at rest with the credentials key
        stored = conn.execute(text("SELECT secret FROM webhooks WHERE id = :i"), {"i": hook["id"]}).scalar()
    assert stored.startswith("enc1.") and SECRET not in stored
    listed = srv.request("GET", "/api/webhooks")[1]
    assert SECRET not in json.dumps(listed) and SECRET not in json.dumps(srv.request("GET", f"/api/webhooks/{hook['id']}")[1])


def test_detection_events_reach_global_and_permitted_per_user_webhooks_only(srv):
    ok = Receiver(fail=0)
    try:
        olga, vera = (srv.runtime.auth.users.get(n)["id"] for n in ("olga", "vera"))
        cid = srv.request("POST", "/api/cameras", {"url": SIM})[1]["id"]
        other = srv.request("POST", "/api/cameras", {"url": "sim://?people=0&width=160&height=128"})[1]["id"]
        assert srv.request("PUT", f"/api/cameras/{cid}/shares", {"users": [], "roles": ["operator"]})[0] == 200
        hooks = {}
        for name, extra in (("global", {}), ("olga", {"owner_id": olga}), ("vera", {"owner_id": vera}),
                            ("other camera", {"camera_ids": [other]}), ("off", {"enabled": False})):
            status, hooks[name] = srv.request("POST", "/api/webhooks", {
                "url": ok.url(f"/{name.replace(' ', '-')}"), "event_types": ["event.new"], "name": name, **extra})
            assert status == 201, hooks[name]
        assert hooks["vera"]["scope"] == "user" and hooks["vera"]["owner"] == "vera"
        wait_for(lambda: srv.camera(cid)["status"] == "live", what="live")
        srv.request("PATCH", f"/api/cameras/{cid}/detection", {"enabled": True})
        first = wait_for(lambda: [r for r in ok.bodies("event.new") if r["path"] == "/global"], timeout=90,
                         what="an event.new from the hotspot detector")[0]
        payload = json.loads(first["body"])
        assert payload["camera_id"] == cid and payload["event_id"] and payload["kind"] == "detection"
        wait_for(lambda: [r for r in ok.bodies("event.new") if r["path"] == "/olga"], timeout=10,
                 what="the operator's webhook (the camera is shared with operators)")
        time.sleep(1.0)  # anything queued for the others would have arrived by now
        paths = {r["path"] for r in ok.bodies()}
        assert not paths & {"/vera", "/other-camera", "/off"}, paths
        assert srv.request("GET", f"/api/webhooks/{hooks['vera']['id']}/deliveries")[1]["total"] == 0
    finally:
        ok.close()


ROUTES = [("GET", "/api/webhooks", None), ("POST", "/api/webhooks", {"url": "http://127.0.0.1:9/x",
                                                                     "event_types": ["camera.status"]}),
          ("GET", "/api/webhooks/{id}", None), ("PATCH", "/api/webhooks/{id}", {"enabled": False}),
          ("DELETE", "/api/webhooks/{id}", None), ("GET", "/api/webhooks/{id}/deliveries", None),
          ("POST", "/api/webhooks/{id}/test", None)]


def test_only_admins_reach_webhooks_and_unknown_ids_are_404(srv):
    wid = srv.request("POST", "/api/webhooks", {"url": "http://127.0.0.1:9/x", "event_types": ["alarm.raised"]})[1]["id"]
    for method, path, body in ROUTES:
        for user, expected in (("olga", 403), ("vera", 403), (None, 401)):
            status, answer = srv.request(method, path.format(id=wid), body, as_user=user)
            assert status == expected, (method, path, user, answer)
        if "{id}" in path:
            status, answer = srv.request(method, path.format(id=999999), body)
            assert status == 404 and "webhook" in answer["error"], (method, path, answer)
    assert srv.request("GET", f"/api/webhooks/{wid}")[1]["enabled"] is True  # nothing was changed by them
    doc = srv.request("GET", "/api/openapi.json")[1]["paths"]
    for method, path, _ in ROUTES:
        assert method.lower() in doc[path.replace("{id}", "{wid}")], path


BAD = [
    ({"url": "ftp://example.org/x", "event_types": ["camera.status"]}, 400, "only http and https"),
    ({"url": "file:///etc/passwd", "event_types": ["camera.status"]}, 400, "only http and https"),
    ({"url": "http:///nohost", "event_types": ["camera.status"]}, 400, "no host"),
    ({"url": "http://127.0.0.1:9/", "event_types": ["camera.exploded"]}, 400, "event_types"),
    ({"url": "http://127.0.0.1:9/", "event_types": []}, 400, "event_types"),
    ({"url": "http://127.0.0.1:9/", "event_types": ["camera.status"], "secret": "short"}, 400, "secret"),
    ({"url": "http://127.0.0.1:9/a b", "event_types": ["camera.status"]}, 400, "control characters"),
    ({"url": "http://127.0.0.1:9/", "event_types": ["camera.status"], "name": "a\x00b"}, 400, "name"),
    ({"url": "http://127.0.0.1:9/", "event_types": ["camera.status"], "camera_ids": [4242]}, 404, "camera 4242"),
    ({"url": "http://127.0.0.1:9/", "event_types": ["camera.status"], "owner_id": 4242}, 404, "user 4242"),
    ({"url": "http://127.0.0.1:9/", "event_types": ["camera.status"], "camera_ids": [2**40]}, 404, "no camera"),
]


def test_bad_webhooks_are_refused_with_a_reason_and_nothing_stored(srv):
    for body, status, fragment in BAD:
        got, answer = srv.request("POST", "/api/webhooks", body)
        assert got == status and fragment in answer["error"], (body, answer)
    assert srv.request("GET", "/api/webhooks")[1]["webhooks"] == []
    hook = srv.request("POST", "/api/webhooks", {"url": "http://127.0.0.1:9/", "event_types": ["camera.status"]})[1]
    for body, status, fragment in BAD:  # a bad change is refused whole: the webhook stays as it was
        got, answer = srv.request("PATCH", f"/api/webhooks/{hook['id']}", {**body, "enabled": False})
        assert got == status and fragment in answer["error"], (body, answer)
    kept = srv.request("GET", f"/api/webhooks/{hook['id']}")[1]
    assert {k: kept[k] for k in ("url", "event_types", "enabled", "camera_ids", "owner_id", "name")} == {
        "url": "http://127.0.0.1:9/", "event_types": ["camera.status"], "enabled": True, "camera_ids": None,
        "owner_id": None, "name": "127.0.0.1"}


def test_test_event_redirects_are_not_followed_and_secrets_rotate(srv, receiver):
    receiver.fail = 0
    hook = srv.request("POST", "/api/webhooks", {"url": receiver.url("/moved"), "event_types": ["camera.status"]})[1]
    assert len(hook["secret"]) >= 32  # generated, shown once
    status, queued = srv.request("POST", f"/api/webhooks/{hook['id']}/test")
    assert status == 202 and queued["delivery"]
    first = wait_for(lambda: srv.request("GET", f"/api/webhooks/{hook['id']}/deliveries")[1]["deliveries"],
                     what="the test attempt in the log")[-1]
    assert first["event_type"] == "test" and first["status_code"] == 302 and not first["ok"]
    assert "not followed" in first["error"] and first["next_attempt_at"]
    assert [r["path"] for r in receiver.bodies()] == ["/moved"]  # nothing went to /elsewhere
    assert verify(hook["secret"], receiver.bodies()[0]["body"], receiver.bodies()[0]["headers"])

    status, changed = srv.request("PATCH", f"/api/webhooks/{hook['id']}", {"rotate_secret": True,
                                                                           "url": receiver.url("/ok")})
    assert status == 200 and changed["secret"] != hook["secret"]
    srv.request("POST", f"/api/webhooks/{hook['id']}/test")
    got = wait_for(lambda: [r for r in receiver.bodies() if r["path"] == "/ok"], what="the test at /ok")[0]
    assert json.loads(got["body"])["type"] == "test"
    assert verify(changed["secret"], got["body"], got["headers"]) and not verify(hook["secret"], got["body"],
                                                                                  got["headers"])
    assert srv.request("DELETE", f"/api/webhooks/{hook['id']}")[1] == {"deleted": hook["id"]}
    assert srv.request("GET", f"/api/webhooks/{hook['id']}/deliveries")[0] == 404


def test_the_log_keeps_the_newest_attempts_of_each_webhook(db):
    a, _ = store.create(db, {"url": "https://a.example/x", "event_types": ["camera.status"]})
    b, _ = store.create(db, {"url": "https://user:pw@b.example/x?token=abc", "event_types": ["alarm.raised"]})
    assert b["url"] == "https://user:***@b.example/x?token=***"  # credentials masked in what is shown
    for hook in (a, b):
        for n in range(1, 8):
            store.record_attempt(db, {"webhook_id": hook["id"], "delivery": f"d{n}", "event_type": "test",
                                      "attempt": 1, "ok": n % 2 == 0, "status_code": 200, "duration_ms": 1.0,
                                      "response_excerpt": "x" * 500}, keep=3)
    for hook in (a, b):
        log = store.deliveries(db, hook["id"])
        assert log["total"] == 3 and [d["delivery"] for d in log["deliveries"]] == ["d7", "d6", "d5"]
        assert len(log["deliveries"][0]["response_excerpt"]) == store.EXCERPT_CHARS
    with db.session() as s:
        assert s.get(Webhook, b["id"]).url == "https://user:pw@b.example/x?token=abc"
    store.delete_webhook(db, a["id"])
    with pytest.raises(store.NotFound):
        store.deliveries(db, a["id"])
    with db.session() as s:  # a user's webhooks go with the user
        s.add(User(username="leaver", role="viewer"))
    with db.session() as s:
        uid = s.scalar(select(User.id).where(User.username == "leaver"))
    mine, _ = store.create(db, {"url": "https://c.example/", "event_types": ["event.new"], "owner_id": uid})
    assert mine["scope"] == "user" and mine["owner"] == "leaver"
    with db.session() as s:
        s.delete(s.get(User, uid))
    assert [w["id"] for w in store.list_webhooks(db)] == [b["id"]]


@pytest.mark.ui
def test_admin_adds_a_webhook_on_the_page_and_sees_the_test_delivery(server, page):  # noqa: F811
    import re

    from tests.conftest import login

    ok = Receiver(fail=0)
    try:
        login(page, server)
        page.goto(server.base + "/")
        page.locator('a[data-page="webhooks"]').click()
        page.get_by_label("Name").wait_for(timeout=30000)
        page.get_by_label("Name").fill("ui receiver")
        page.get_by_label("URL (http or https)").fill(ok.url("/ui"))
        page.get_by_placeholder("choose event types").click()
        page.locator(".choices__item--choice", has_text="camera.status").first.click()
        page.get_by_role("button", name="Add webhook").click()
        said = page.get_by_text("shown once", exact=False).first
        said.wait_for(timeout=15000)
        secret = re.search(r"receiver\): (\S+)", said.inner_text()).group(1)
        hooks = server.request("GET", "/api/webhooks")[1]["webhooks"]
        assert [(h["name"], h["event_types"]) for h in hooks] == [("ui receiver", ["camera.status"])]
        page.get_by_role("button", name="Send test").click()
        row = page.locator(".ts-wh-log tr.ok", has_text="test")
        row.wait_for(timeout=20000)
        assert "200" in row.locator("td.result").inner_text()
        got = ok.bodies("test")
        assert len(got) == 1 and verify(secret, got[0]["body"], got[0]["headers"])

        page.get_by_label("Name").fill("renamed receiver")  # the added webhook is still selected: edit it
        page.locator(".ts-wh-enabled input[type=checkbox]").uncheck()
        page.get_by_role("button", name="Save changes").click()
        page.get_by_text("Saved renamed receiver", exact=False).first.wait_for(timeout=15000)
        hook = server.request("GET", "/api/webhooks")[1]["webhooks"][0]
        assert (hook["name"], hook["enabled"], hook["url"]) == ("renamed receiver", False, ok.url("/ui"))
        page.get_by_role("button", name="Delete").click()  # asks first
        page.get_by_role("button", name="Confirm delete").click()
        page.get_by_text("Deleted renamed receiver", exact=False).first.wait_for(timeout=15000)
        assert server.request("GET", "/api/webhooks")[1]["webhooks"] == []
        assert not page.errors, page.errors
    finally:
        ok.close()


def test_a_hanging_receiver_never_blocks_the_publisher(tmp_path):
    """Capture threads publish camera status: with every sender stuck on a receiver that does not
    answer, publishing still returns at once, and the events are delivered once it answers."""
    from thermalstream.bus import EventBus
    from thermalstream.db import Database
    from thermalstream.integrations.webhooks import Options, WebhookService

    release = threading.Event()
    seen: list[bytes] = []

    class Stuck(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            seen.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            release.wait(30)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Stuck)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    db = Database(f"sqlite:///{tmp_path / 'w.db'}")
    db.upgrade()
    bus = EventBus()
    service = WebhookService(db, bus, Options()).start()  # the defaults users get
    try:
        service.create({"url": f"http://127.0.0.1:{httpd.server_address[1]}/", "event_types": ["camera.status"]})
        publisher = threading.Thread(target=lambda: [bus.publish("camera.status", {"camera_id": 1, "status": s})
                                                     for s in ["reconnecting", "live"] * 20])
        publisher.start()
        publisher.join(timeout=5)
        assert not publisher.is_alive(), "publishing waited for the webhook receiver"
        wait_for(lambda: len(seen) >= 4, timeout=10, what="the 4 senders to be stuck on the receiver")
        release.set()
        wait_for(lambda: len(seen) == 40, timeout=30, what="every event delivered once the receiver answers")
        assert service.stats()["dropped"] == 0
    finally:
        release.set()
        service.shutdown()
        httpd.shutdown()
        httpd.server_close()
        db.dispose()


def test_an_attempt_that_gets_no_answer_times_out_and_is_logged(tmp_path):
    from thermalstream.bus import EventBus
    from thermalstream.db import Database
    from thermalstream.integrations.webhooks import Options, WebhookService

    release = threading.Event()

    class Silent(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            release.wait(30)  # reads nothing, answers nothing

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Silent)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    db = Database(f"sqlite:///{tmp_path / 'w.db'}")
    db.upgrade()
    service = WebhookService(db, EventBus(), Options(timeout_s=0.5, max_attempts=1)).start()
    try:
        hook, _ = service.create({"url": f"http://127.0.0.1:{httpd.server_address[1]}/",
                                  "event_types": ["camera.status"]})
        service.send_test(hook["id"])
        row = wait_for(lambda: store.deliveries(db, hook["id"])["deliveries"], timeout=10, what="the attempt")[0]
        assert not row["ok"] and row["status_code"] is None and "timed out" in row["error"], row
        assert row["duration_ms"] >= 450 and row["next_attempt_at"] is None  # one attempt allowed: no retry
    finally:
        release.set()
        service.shutdown()
        httpd.shutdown()
        httpd.server_close()
        db.dispose()
