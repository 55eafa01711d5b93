"""Issue 11, access items 1-7: no user sees or changes what is not theirs, and ended sessions end.

Real servers on loopback with two operators (olga, oscar) and a viewer (vera); where the database
matters, on SQLite and PostgreSQL. Each test fails on the code before issue 11.
"""

from __future__ import annotations

import argparse
import http.client
import json
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import websocket

from tests.conftest import start_server, stop_server, wait_for
from thermalstream.auth import PasswordHasher, UserService
from thermalstream.auth import cli as users_cli
from thermalstream.db import Database, repo

PW = "correct horse battery staple 11"
USERS = {"olga": "operator", "oscar": "operator", "vera": "viewer"}


def _with_users(srv):
    for name, role in USERS.items():
        srv.runtime.auth.users.create(name, PW, role)
    return srv


@pytest.fixture
def srv(tmp_path):
    s = _with_users(start_server(tmp_path))
    try:
        yield s
    finally:
        stop_server(s)


@pytest.fixture
def srv_db(tmp_path, db_url):
    """A server on SQLite, then on PostgreSQL."""
    s = _with_users(start_server(tmp_path, database_url=db_url))
    try:
        yield s
    finally:
        stop_server(s)


def add_camera(srv, as_user: str, url: str = "sim://?width=160&height=128", name: str = "") -> dict:
    status, cam = srv.request("POST", "/api/cameras", {"url": url, "name": name or f"{as_user}'s camera"},
                              as_user=as_user)
    assert status == 201, cam
    return cam


def private_camera(srv, owner: str) -> dict:
    """A camera shared with its owner only (through the core, so that tests of other items do not
    depend on the sharing API)."""
    cam = add_camera(srv, owner, f"sim://?width=160&height=128&seed={len(srv.runtime.cameras.list()) + 7}")
    srv.runtime.cameras.share(cam["id"], user_id=srv.runtime.auth.users.get(owner)["id"])
    return cam


# --- 1. schedules ------------------------------------------------------------------------------------


def test_schedules_apply_camera_visibility(srv_db):
    srv = srv_db
    secret = private_camera(srv, "olga")
    public = add_camera(srv, "oscar", "sim://?width=160&height=128&seed=99")
    body = {"camera_id": secret["id"], "name": "night", "start_time": "00:00", "stop_time": "00:01",
            "days_of_week": ["sun"], "timezone": "UTC"}
    status, sched = srv.request("POST", "/api/schedule/create", body, as_user="olga")
    assert status == 201, sched
    sid = sched["id"]
    status, other = srv.request("POST", "/api/schedule/create", {**body, "camera_id": public["id"]}, as_user="oscar")
    assert status == 201

    for who in ("vera", "oscar"):  # neither may see olga's camera
        listed = srv.request("GET", "/api/schedules", as_user=who)[1]["schedules"]
        assert [s["id"] for s in listed] == [other["id"]], who
        assert srv.request("GET", f"/api/schedules?camera={secret['id']}", as_user=who)[1]["schedules"] == []
        assert srv.request("GET", f"/api/schedules/{sid}", as_user=who)[0] == 404
    assert srv.request("POST", "/api/schedule/update", {"id": sid, "name": "mine now"}, as_user="oscar")[0] == 404
    assert srv.request("POST", "/api/schedule/update", {"id": other["id"], "camera_id": secret["id"]},
                       as_user="oscar")[0] == 400  # cannot move a schedule onto a camera one cannot see
    assert srv.request("POST", "/api/schedule/delete", {"id": sid}, as_user="oscar")[0] == 404
    status, foreign = srv.request("POST", "/api/schedule/create", {**body, "name": "spy"}, as_user="oscar")
    status_unknown, unknown = srv.request("POST", "/api/schedule/create", {**body, "camera_id": 987654},
                                          as_user="oscar")
    assert status == status_unknown == 400 and foreign["field"] == "camera_id"
    assert foreign["error"].replace(str(secret["id"]), "#") == unknown["error"].replace("987654", "#")
    assert not srv.runtime.recordings.is_recording(secret["id"])
    # nothing changed, and the owner and admins still see it
    assert srv.request("GET", f"/api/schedules/{sid}", as_user="olga")[1]["name"] == "night"
    assert {s["id"] for s in srv.request("GET", "/api/schedules")[1]["schedules"]} == {sid, other["id"]}
    assert sched["created_by"] == srv.runtime.auth.users.get("olga")["id"]
    assert srv.request("POST", "/api/schedule/delete", {"id": sid}, as_user="olga")[0] == 200


# --- 2. sharing ------------------------------------------------------------------------------------


def test_owner_on_create_and_sharing_through_the_api(srv):
    cam = add_camera(srv, "olga")
    olga, vera = (srv.runtime.auth.users.get(n)["id"] for n in ("olga", "vera"))
    assert cam["owner_id"] == olga
    path = f"/api/cameras/{cam['id']}/shares"
    status, shares = srv.request("GET", path, as_user="vera")
    assert status == 200 and shares["private"] is False and shares["owner"]["username"] == "olga"

    assert srv.request("PUT", path, {"users": ["oscar"]}, as_user="oscar")[0] == 403  # not the owner
    assert srv.request("PUT", path, {"users": []}, as_user="vera")[0] == 403  # a viewer
    assert srv.request("PUT", path, {"users": ["nobody"]}, as_user="olga")[0] == 400
    assert srv.request("PUT", path, {"roles": ["root"]}, as_user="olga")[0] == 400
    assert srv.request("PUT", path, {"users": [], "everyone": True}, as_user="olga")[0] == 400

    status, shares = srv.request("PUT", path, {"users": ["vera"]}, as_user="olga")
    assert status == 200 and shares["private"] and [u["id"] for u in shares["users"]] == [vera]
    assert srv.request("GET", f"/api/cameras/{cam['id']}", as_user="vera")[0] == 200
    for probe in (f"/api/cameras/{cam['id']}", path):
        assert srv.request("GET", probe, as_user="oscar")[0] == 404
    assert cam["id"] not in {c["id"] for c in srv.request("GET", "/api/cameras", as_user="oscar")[1]["cameras"]}
    assert srv.request("PUT", path, {"users": []}, as_user="oscar")[0] == 404  # cannot even see it

    status, shares = srv.request("PUT", path, {"roles": ["operator"]})  # an admin may change any camera
    assert status == 200 and shares["roles"] == ["operator"] and shares["users"] == []
    assert srv.request("GET", f"/api/cameras/{cam['id']}", as_user="oscar")[0] == 200
    assert srv.request("GET", f"/api/cameras/{cam['id']}", as_user="vera")[0] == 404
    status, shares = srv.request("PUT", path, {}, as_user="olga")  # no shares: public again
    assert status == 200 and shares["private"] is False
    assert srv.request("GET", f"/api/cameras/{cam['id']}", as_user="vera")[0] == 200
    doc = srv.request("GET", "/api/openapi.json")[1]
    assert {"get", "put"} <= set(doc["paths"]["/api/cameras/{cid}/shares"])


# --- 3. file sources ---------------------------------------------------------------------------------


def write_video(path: Path, frames: int = 10) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    for i in range(frames):
        out.write(np.full((48, 64, 3), i * 20, np.uint8))
    out.release()
    assert path.stat().st_size > 0
    return path


def test_file_sources_lie_in_the_media_folder_and_errors_reveal_nothing(srv, tmp_path):
    settings = srv.runtime.settings
    media = settings.data_dir / "media"  # the default THERMALSTREAM_MEDIA_DIR
    outside = write_video(tmp_path / "elsewhere" / "private.mp4")
    segment = write_video(settings.recordings_dir / "cam77" / "20260101T000000Z_r1" / "seg_000.mp4")
    (media).mkdir(parents=True, exist_ok=True)
    link = media / "sneaky.mp4"
    link.symlink_to(outside)
    answers = []
    for url in (str(outside), f"file://{segment}", str(tmp_path / "elsewhere" / "missing.mp4"), "/root/secret.mp4",
                str(link), f"{media}/../elsewhere/x.mp4"):
        status, err = srv.request("POST", "/api/cameras", {"url": url}, as_user="olga")
        assert status == 400, (url, err)
        answers.append(err["error"])
        assert str(tmp_path) not in err["error"] and "not found" not in err["error"], err
    assert len(set(answers)) == 1 and "media folder" in answers[0]  # existing or not: the same answer

    status, err = srv.request("POST", "/api/cameras", {"url": str(media / "missing.mp4")}, as_user="olga")
    assert status == 400 and err["error"] == "file not found in the media folder: missing.mp4"
    clip = write_video(media / "clips" / "yard.mp4")
    status, cam = srv.request("POST", "/api/cameras", {"url": f"{clip}?loop=1"}, as_user="olga")
    assert status == 201 and cam["kind"] == "file", cam
    write_video(media / "gate.mp4")  # a path relative to the media folder
    status, cam = srv.request("POST", "/api/cameras", {"url": "gate.mp4?loop=1"}, as_user="oscar")
    assert status == 201 and cam["url"] == f"{media.resolve() / 'gate.mp4'}?loop=1", cam
    assert srv.request("POST", "/api/cameras", {"url": "../elsewhere/private.mp4"}, as_user="oscar")[1][
        "error"] == answers[0]
    status, cam = srv.request("POST", "/api/cameras", {"url": f"{outside}?loop=1"})  # admins: anywhere
    assert status == 201, cam
    assert len(srv.runtime.cameras.list()) == 3


# --- 4. deleted cameras -------------------------------------------------------------------------


def test_ids_are_never_reused(db):
    with db.session() as s:
        first = repo.add_camera(s, "a", "sim://?seed=1").id
        last = repo.add_camera(s, "b", "sim://?seed=2").id
    with db.session() as s:
        assert repo.delete_camera(s, last)
    with db.session() as s:
        assert repo.add_camera(s, "c", "sim://?seed=3").id > last > first
    users = UserService(db, hasher=PasswordHasher(4))
    gone = users.create("temp", PW)["id"]
    users.delete("temp")
    assert users.create("temp", PW)["id"] > gone


def test_deleting_a_camera_archives_or_deletes_its_media(srv_db):
    srv = srv_db
    s = srv.runtime.settings

    def media_of(cid: int) -> list[Path]:
        files = [s.recordings_dir / f"cam{cid}" / "20260101T000000Z_r1" / "seg_000.mp4",
                 s.screenshots_dir / str(cid) / "2026-01-01" / "shot.jpg",
                 s.data_dir / "thumbnails" / f"cam{cid}" / "r1.jpg"]
        for f in files:
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(b"x" * 1000)
        return files

    kept = add_camera(srv, "olga")
    files = media_of(kept["id"])
    assert srv.request("DELETE", f"/api/cameras/{kept['id']}?media=shred")[0] == 400
    assert srv.request("GET", f"/api/cameras/{kept['id']}")[0] == 200 and all(f.exists() for f in files)
    assert srv.request("DELETE", f"/api/cameras/{kept['id']}", as_user="olga")[0] == 403
    assert srv.request("DELETE", f"/api/cameras/{kept['id']}?media=archive")[0] == 204
    assert not any(f.exists() for f in files)
    [archive] = list((s.data_dir / "archive").iterdir())
    assert archive.name.startswith(f"cam{kept['id']}_") and len(list(archive.rglob("*.*"))) == 3
    assert (archive.stat().st_mode & 0o777) == 0o700

    gone = add_camera(srv, "olga", "sim://?seed=5")
    files = media_of(gone["id"])
    assert srv.request("DELETE", f"/api/cameras/{gone['id']}?media=delete")[0] == 204
    assert not any(f.exists() or f.parent.exists() for f in files)
    new = add_camera(srv, "oscar", "sim://?seed=6")  # a later camera never owns the old footage
    assert new["id"] > gone["id"] > kept["id"]
    storage = srv.request("GET", "/api/storage")[1]
    assert set(storage["cameras"]) <= {str(new["id"])}
    assert storage["archived_media"] == {"bytes": 3000, "files": 3, "cameras": 1}  # the admin sees the archive
    assert "archived_media" not in srv.request("GET", "/api/storage", as_user="olga")[1]
    note = srv.runtime.notifications.list(None, limit=5)
    assert any("archived" in n["message"] for n in note) and any("deleted" in n["message"] for n in note)


# --- 5. storage ----------------------------------------------------------------------------------


def test_storage_shows_only_cameras_the_user_may_see(srv):
    secret = private_camera(srv, "olga")
    public = add_camera(srv, "oscar", "sim://?seed=42", name="yard")
    s = srv.runtime.settings
    for cid, size in ((secret["id"], 5000), (public["id"], 700)):
        f = s.recordings_dir / f"cam{cid}" / "20260101T000000Z_r1" / "seg_000.mp4"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"x" * size)
    srv.runtime.sample_storage()
    sid, pid = str(secret["id"]), str(public["id"])

    admin = srv.request("GET", "/api/storage")[1]
    assert {sid, pid} <= set(admin["cameras"]) and admin["camera_names"][sid]
    status, mine = srv.request("GET", "/api/storage", as_user="vera")
    assert status == 200
    assert set(mine["cameras"]) == {pid} and sid not in mine["camera_names"]
    assert sid not in mine["categories"]["recordings"]["by_camera"]
    assert mine["categories"]["recordings"]["bytes"] == admin["categories"]["recordings"]["bytes"] - 5000
    assert mine["total"]["bytes"] == admin["total"]["bytes"] - 5000
    samples = srv.request("GET", "/api/storage/samples", as_user="vera")[1]["samples"]
    assert samples and secret["id"] not in {r["camera_id"] for r in samples} and public["id"] in {
        r["camera_id"] for r in samples}
    totals = {r["category"]: r for r in samples if r["camera_id"] is None}
    every = {r["category"]: r for r in srv.request("GET", "/api/storage/samples")[1]["samples"] if r["camera_id"] is None}
    assert totals["recordings"]["bytes"] == every["recordings"]["bytes"] - 5000  # the history hides it too
    assert totals["recordings"]["files"] == every["recordings"]["files"] - 1
    assert totals["disk_total"]["bytes"] == every["disk_total"]["bytes"]
    only = srv.request("GET", "/api/storage/samples?category=recordings", as_user="vera")[1]["samples"]
    assert [r["bytes"] for r in only if r["camera_id"] is None] == [totals["recordings"]["bytes"]]
    assert srv.request("GET", f"/api/storage/samples?camera={secret['id']}", as_user="vera")[0] == 404
    assert srv.request("GET", f"/api/storage/samples?camera={secret['id']}", as_user="olga")[1]["samples"]


# --- 6. sessions -----------------------------------------------------------------------------------


def login_cookie(srv, username: str) -> str:
    """Log in through the real form; the signed 'user' cookie as a Cookie header value."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    body = f"username={username}&password={PW.replace(' ', '+')}"
    conn.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded", "Origin": srv.base})
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 302, resp.status
    cookies = [v.split(";", 1)[0] for k, v in resp.getheaders() if k.lower() == "set-cookie"]
    [user] = [c for c in cookies if c.startswith("user=")]
    return user


def with_cookie(srv, cookie: str, path: str = "/api/cameras") -> int:
    return srv.request("GET", path, as_user=None, headers={"Cookie": cookie})[0]


def token(srv, username: str) -> str:
    status, pair = srv.request("POST", "/api/auth/token", {"username": username, "password": PW}, as_user=None)
    assert status == 200, pair
    return pair


def with_token(srv, access: str) -> int:
    return srv.request("GET", "/api/cameras", as_user=None, headers={"Authorization": f"Bearer {access}"})[0]


def cli(srv, *argv: str) -> int:
    """``thermalstream users ...`` on the server's database from outside the server (its own connection)."""
    parser = argparse.ArgumentParser(prog="thermalstream")
    users_cli.register(parser.add_subparsers(dest="command", required=True),
                       settings_factory=lambda args: srv.runtime.settings)
    args = parser.parse_args(["users", *argv])
    return args.fn(args)


def test_logout_password_role_change_and_deletion_end_every_cookie_and_token(srv_db):
    srv = srv_db
    cookie, pair = login_cookie(srv, "olga"), token(srv, "olga")
    assert with_cookie(srv, cookie) == 200 and with_token(srv, pair["access_token"]) == 200
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.request("GET", "/logout", headers={"Cookie": cookie, "Referer": srv.base + "/"})  # the menu link
    assert conn.getresponse().status == 302
    assert with_cookie(srv, cookie) == 401  # the copied cookie is dead...
    assert with_token(srv, pair["access_token"]) == 401  # ...and so is every token of the user
    assert srv.request("POST", "/api/auth/refresh", {"refresh_token": pair["refresh_token"]}, as_user=None)[0] == 401
    page = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    page.request("GET", "/", headers={"Cookie": cookie})
    resp = page.getresponse()
    assert resp.status == 302 and "/login" in resp.getheader("Location", "")  # pages too

    cookie, pair = login_cookie(srv, "olga"), token(srv, "olga")
    assert cli(srv, "reset-password", "olga", "--password", PW + "!") == 0  # another process
    assert with_cookie(srv, cookie) == 401 and with_token(srv, pair["access_token"]) == 401
    assert cli(srv, "reset-password", "olga", "--password", PW) == 0

    cookie, pair = login_cookie(srv, "olga"), token(srv, "olga")
    srv.runtime.auth.users.set_role("olga", "viewer")
    assert with_cookie(srv, cookie) == 401 and with_token(srv, pair["access_token"]) == 401
    cookie = login_cookie(srv, "olga")
    assert with_cookie(srv, cookie) == 200

    # logging out with a refresh token ends the cookies as well
    pair = token(srv, "oscar")
    cookie = login_cookie(srv, "oscar")
    assert srv.request("POST", "/api/auth/logout", {"refresh_token": pair["refresh_token"]}, as_user=None)[0] == 204
    assert with_cookie(srv, cookie) == 401

    cookie, pair = login_cookie(srv, "vera"), token(srv, "vera")
    srv.runtime.auth.users.delete("vera")
    srv.runtime.auth.users.create("vera", PW, "admin")  # same name, new account: the old cookie is not it
    assert with_cookie(srv, cookie) == 401 and with_token(srv, pair["access_token"]) == 401


# --- 7. open sockets -----------------------------------------------------------------------------


def closed_within(ws, seconds: float) -> bool:
    """Whether the server closes ``ws`` within ``seconds`` (frames in the meantime are read and dropped)."""
    deadline = time.monotonic() + seconds
    ws.settimeout(1.0)
    while time.monotonic() < deadline:
        try:
            op, _ = ws.recv_data(control_frame=True)
        except websocket.WebSocketTimeoutException:
            continue
        except (websocket.WebSocketConnectionClosedException, ConnectionError):
            return True
        if op == websocket.ABNF.OPCODE_CLOSE:
            return True
    return False


def open_ws(srv, path: str, access: str):
    return websocket.create_connection(f"ws://127.0.0.1:{srv.port}{path}", timeout=10, origin=srv.base,
                                       header=[f"Authorization: Bearer {access}"])


def test_open_websockets_close_when_the_account_changes(srv):
    cam = add_camera(srv, "olga")
    wait_for(lambda: srv.camera(cam["id"])["status"] == "live", what="camera live")
    olga = token(srv, "olga")["access_token"]
    video, updates = open_ws(srv, f"/ws/video/{cam['id']}", olga), open_ws(srv, "/ws/updates", olga)
    assert len(video.recv()) > 8 and json.loads(updates.recv())["topic"] == "hello"
    bystander = open_ws(srv, f"/ws/video/{cam['id']}", token(srv, "oscar")["access_token"])
    srv.runtime.auth.users.delete("olga")
    assert closed_within(video, 3) and closed_within(updates, 3)
    assert len(bystander.recv()) > 8  # others keep watching

    # a change made by another process (the CLI) is noticed by the periodic check
    vera = open_ws(srv, "/ws/updates", token(srv, "vera")["access_token"])
    assert json.loads(vera.recv())["topic"] == "hello"
    other = Database(srv.runtime.settings.db_url)
    try:
        UserService(other, hasher=PasswordHasher(4)).end_sessions("vera")
    finally:
        other.dispose()
    assert closed_within(vera, 10)
    assert not closed_within(bystander, 1)
    bystander.close()


# --- the pages (Chromium) ------------------------------------------------------------------------


FACTORS = """() => {  // the category labels of every Bokeh chart on the page
    const out = [];
    for (const doc of (window.Bokeh ? Bokeh.documents : []))
        for (const m of doc.all_models) if (Array.isArray(m.factors)) out.push(...m.factors.map(String));
    return out.includes("olga-yard") ? out : null;
}"""


@pytest.mark.ui
def test_pages_sharing_control_disabled_schedule_form_and_storage(srv):
    from playwright.sync_api import sync_playwright

    from tests.conftest import login
    from tests.test_ui import ARGS, CHROMIUM

    secret = private_camera(srv, "olga")
    srv.request("PATCH", f"/api/cameras/{secret['id']}", {"name": "olga-secret-cam"})
    mine = add_camera(srv, "olga", "sim://?width=160&height=128&seed=3", name="olga-yard")
    for cid in (secret["id"], mine["id"]):
        f = srv.runtime.settings.recordings_dir / f"cam{cid}" / "20260101T000000Z_r1" / "seg_000.mp4"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"x" * 4096)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            # the owner shares her camera with every viewer from its card
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            login(page, srv, "olga", PW)
            card = page.locator(".ts-camera", has_text="olga-yard")
            card.locator('.ts-badge[data-status="live"]').wait_for(timeout=20000)
            card.get_by_role("button", name="Sharing", exact=True).click()
            card.get_by_label("viewer").check()
            card.get_by_role("button", name="Save sharing").click()
            card.locator(".ts-sharing-saved").wait_for(timeout=10000)
            assert srv.runtime.cameras.shares(mine["id"])["roles"] == ["viewer"]
            assert card.locator('.ts-sharing[data-private="1"]').count() == 1
            page.get_by_placeholder("sim://?people=3", exact=False).fill("sim://?width=160&height=128&seed=21")
            page.get_by_role("button", name="Connect", exact=True).click()  # the connect form: she owns it
            olga_id = srv.runtime.auth.users.get("olga")["id"]
            wait_for(lambda: [c for c in srv.runtime.cameras.list() if "seed=21" in c["url"]], what="form camera")
            assert [c["owner_id"] for c in srv.runtime.cameras.list() if "seed=21" in c["url"]] == [olga_id]
            srv.runtime.auth.users.end_sessions("olga")  # e.g. an admin changed her role: the open page ends
            page.wait_for_url(lambda url: "/login" in url, timeout=15000)
            page.close()

            # another operator sees the shared camera but no Sharing control on it
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            login(page, srv, "oscar", PW)
            card = page.locator(".ts-camera", has_text="olga-yard")
            card.locator(".ts-badge").first.wait_for(timeout=20000)
            assert card.get_by_role("button", name="Sharing", exact=True).count() == 0
            page.close()

            # a viewer: the Schedules form is disabled, the Storage page does not name the hidden camera
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            login(page, srv, "vera", PW)
            page.goto(srv.base + "/schedules")
            page.get_by_text("read only: editing needs the operator role").wait_for(timeout=20000)
            assert page.get_by_role("button", name="Create schedule").is_disabled()
            assert page.get_by_placeholder("e.g. Night watch").is_disabled()
            page.goto(srv.base + "/storage")
            page.get_by_text("Retention policy in force").wait_for(timeout=20000)
            factors = wait_for(lambda: page.evaluate(FACTORS), what="the per-camera chart")
            assert "olga-yard" in factors and "olga-secret-cam" not in factors
            assert not page.get_by_role("button", name="Preview cleanup (dry run)").is_visible()
        finally:
            browser.close()


def stream_ends_within(resp, seconds: float) -> bool:
    """Whether a streaming HTTP response (MJPEG) ends within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if not resp.read1(65536):
                return True
        except (TimeoutError, OSError):
            continue
        except http.client.IncompleteRead:
            return True
    return False


def test_unsharing_and_session_ends_stop_live_views(srv):
    cam = add_camera(srv, "olga")
    wait_for(lambda: srv.camera(cam["id"])["status"] == "live", what="camera live")
    oscar, vera = token(srv, "oscar")["access_token"], token(srv, "vera")["access_token"]
    lost, kept = open_ws(srv, f"/ws/video/{cam['id']}", oscar), open_ws(srv, f"/ws/video/{cam['id']}", vera)
    assert len(lost.recv()) > 8 and len(kept.recv()) > 8
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=2)
    conn.request("GET", f"/api/cameras/{cam['id']}/mjpeg", headers={"Authorization": f"Bearer {oscar}"})
    mjpeg = conn.getresponse()
    assert mjpeg.status == 200 and mjpeg.read1(65536)

    status, _ = srv.request("PUT", f"/api/cameras/{cam['id']}/shares", {"users": ["vera"]}, as_user="olga")
    assert status == 200
    assert closed_within(lost, 3)
    assert stream_ends_within(mjpeg, 12)
    assert len(kept.recv()) > 8 and not closed_within(kept, 1)

    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=2)
    conn.request("GET", f"/api/cameras/{cam['id']}/mjpeg", headers={"Authorization": f"Bearer {vera}"})
    mjpeg = conn.getresponse()
    assert mjpeg.status == 200 and mjpeg.read1(65536)
    srv.runtime.auth.users.end_sessions("vera")
    assert closed_within(kept, 3) and stream_ends_within(mjpeg, 12)


def test_files_left_by_cameras_deleted_earlier_are_archived_at_start(tmp_path):
    """An install upgraded from before issue 11: camera 5 was deleted, its folders stayed."""
    data = tmp_path / "data"  # the data folder start_server gives the server
    left = [data / "recordings" / "cam5" / "20250101T000000Z_r9" / "seg_000.mp4", data / "screenshots" / "5" / "a.jpg"]
    for f in left:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"old footage")
    srv = start_server(tmp_path)
    try:
        assert not any(f.exists() for f in left)
        assert sorted(f.name for f in (data / "archive").rglob("*.*")) == ["a.jpg", "seg_000.mp4"]
        assert srv.request("GET", "/api/storage")[1]["cameras"] == {}
        title = "Files of deleted cameras archived"
        admin = srv.runtime.notifications.list(srv.runtime.auth.users.get("admin")["id"], limit=10)
        assert any(n["title"] == title and "5" in n["message"] for n in admin)
        vera = srv.runtime.auth.users.create("vera", PW, "viewer")
        assert not any(n["title"] == title for n in srv.runtime.notifications.list(vera["id"], limit=10))
    finally:
        stop_server(srv)


def test_migration_0007_keeps_every_row_of_an_existing_database(db_url):
    """The SQLite table copies run with foreign keys off: nothing cascades away (and PostgreSQL is untouched)."""
    from datetime import UTC, datetime

    from sqlalchemy import func, select, text

    from thermalstream.db import CameraShare, Detection, Event, Recording, RecordingSegment, RefreshToken, User

    database = Database(db_url)
    try:
        database.upgrade("0005")
        now = datetime.now(UTC)
        with database.engine.begin() as conn:  # rows as an install at 0005 has them (no ORM: the models are newer)
            conn.execute(text("INSERT INTO users (username, role, is_active, created_at, timezone, failed_logins, "
                              "email_alerts) VALUES ('olga', 'operator', true, :t, 'UTC', 0, false)"), {"t": now})
            uid = conn.execute(text("SELECT id FROM users")).scalar()
            conn.execute(text("INSERT INTO cameras (name, url, kind, enabled, status, created_at, updated_at, owner_id,"
                              " settings, radiometric) VALUES ('a', 'sim://', 'sim', true, 'stopped', :t, :t, :u, "
                              "'{}', false)"), {"t": now, "u": uid})
            cid = conn.execute(text("SELECT id FROM cameras")).scalar()
            conn.execute(text("INSERT INTO camera_shares (camera_id, user_id, created_at) VALUES (:c, :u, :t)"),
                         {"c": cid, "u": uid, "t": now})
            conn.execute(text("INSERT INTO events (camera_id, label, started_at, max_confidence, zones) "
                              "VALUES (:c, 'person', :t, 0.9, '[]')"), {"c": cid, "t": now})
            conn.execute(text("INSERT INTO recordings (camera_id, started_at, frames, dropped_frames, size_bytes, "
                              "segments, path, scheduled, status, protected) VALUES (:c, :t, 1, 0, 1, 1, 'cam1/x', "
                              "false, 'completed', false)"), {"c": cid, "t": now})
            rid = conn.execute(text("SELECT id FROM recordings")).scalar()
            conn.execute(text("INSERT INTO recording_segments (recording_id, path, started_at, size_bytes, frames) "
                              "VALUES (:r, 'cam1/x/seg.mp4', :t, 1, 1)"), {"r": rid, "t": now})
            conn.execute(text("INSERT INTO detections (camera_id, label, confidence, x1, y1, x2, y2, timestamp) "
                              "VALUES (:c, 'person', 0.9, 0, 0, 1, 1, :t)"), {"c": cid, "t": now})
            conn.execute(text("INSERT INTO refresh_tokens (user_id, token_hash, created_at, expires_at) "
                              "VALUES (:u, 'h', :t, :t)"), {"u": uid, "t": now})
        database.upgrade()
        with database.session() as s:
            for model in (User, CameraShare, Event, Recording, RecordingSegment, Detection, RefreshToken):
                assert s.scalar(select(func.count()).select_from(model)) == 1, model.__name__
            assert s.get(User, uid).session_version == 0
            assert repo.get_camera(s, cid).owner_id == uid
        if database.dialect == "sqlite":
            with database.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
                assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
    finally:
        database.dispose()
