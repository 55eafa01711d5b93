"""Login, logout and password reset end to end: a real SMTP server receives the reset mail, a real
HTTP client follows the link; Debian's Chromium walks the login pages."""

from __future__ import annotations

import http.cookiejar
import re
import urllib.parse
import urllib.request

import pytest

from tests.auth_fixtures import Inbox, parts, start_smtp
from tests.conftest import ADMIN_PASSWORD, login, start_server, stop_server, wait_for


@pytest.fixture
def mail_server(tmp_path):
    inbox = Inbox()
    smtp = start_smtp(inbox)
    srv = start_server(tmp_path, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_security="none",
                       smtp_sender="ThermalStream <ts@example.test>")
    srv.runtime.auth.users.create("vera", "vera has a long password", "viewer", "vera@example.test")
    try:
        yield srv, inbox
    finally:
        stop_server(srv)
        smtp.stop()


def browser_client(base: str):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def post(path: str, **form) -> tuple[int, str, str]:
        req = urllib.request.Request(base + path, data=urllib.parse.urlencode(form).encode(), headers={"Origin": base})
        try:
            with opener.open(req, timeout=10) as r:
                return r.status, r.geturl(), r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.geturl(), exc.read().decode()

    def get(path: str) -> tuple[int, str, str]:
        try:
            with opener.open(base + path if path.startswith("/") else path, timeout=10) as r:
                return r.status, r.geturl(), r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.geturl(), exc.read().decode()

    return post, get, jar


def test_password_reset_by_mail_end_to_end(mail_server):
    srv, inbox = mail_server
    post, get, jar = browser_client(srv.base)
    status, _, page = post("/forgot-password", who="vera@example.test")
    assert status == 200 and "If that account exists" in page
    same = post("/forgot-password", who="nobody@example.test")[2]
    assert "If that account exists" in same  # no user enumeration

    wait_for(lambda: len(inbox.messages) >= 1, timeout=20, what="the reset mail")
    msg = inbox.messages[0]
    assert msg["To"] == "vera@example.test"
    text, html = parts(msg)
    link = re.search(r"https?://\S+reset-password\?token=[\w\-]+", text).group(0)
    assert link.startswith(srv.base) and link.split("token=")[1] in html

    status, _, form = get(link)
    assert status == 200 and 'name="token"' in form
    token = link.split("token=")[1]
    status, _, page = post("/reset-password", token=token, password="short", confirm="short")
    assert status == 400 and "10" in page  # policy message
    status, url, _ = post("/reset-password", token=token, password="a brand new passphrase", confirm="a brand new passphrase")
    assert status == 200 and url.endswith("/login?reset")
    # the link is single use
    assert get(link)[0] == 400
    assert post("/reset-password", token=token, password="another new passphrase",
                confirm="another new passphrase")[0] == 400

    status, url, _ = post("/login", username="vera", password="a brand new passphrase")
    assert status == 200 and not url.endswith("/login") and any(c.name == "user" for c in jar)
    assert post("/login", username="vera", password="vera has a long password")[0] == 401


def test_expired_reset_token_fails(mail_server):
    srv, inbox = mail_server
    resets = srv.runtime.auth.resets
    vera = srv.runtime.auth.users.get("vera")
    token = resets.create_token(vera["id"])
    assert resets.check_token(token)
    from datetime import timedelta

    from thermalstream.db.types import utcnow

    resets.clock = lambda: utcnow() + timedelta(hours=2)
    post, get, _ = browser_client(srv.base)
    assert get(f"/reset-password?token={token}")[0] == 400


@pytest.mark.ui
def test_login_pages_in_chromium(tmp_path):
    from tests.test_ui import ARGS, CHROMIUM

    srv = start_server(tmp_path)
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page()
            page.goto(srv.base + "/recordings")
            assert "/login" in page.url
            assert page.get_by_role("heading", name="Log in").is_visible()
            page.fill("#username", "admin")
            page.fill("#password", "wrong password here")
            page.click("button[type=submit]")
            page.get_by_text("Wrong username or password.").wait_for(timeout=10000)

            login(page, srv, "admin", ADMIN_PASSWORD)
            page.goto(srv.base + "/")
            page.get_by_text("Signed in as").wait_for(timeout=20000)
            page.get_by_role("link", name="Log out").click()
            page.get_by_text("You have logged out.").wait_for(timeout=10000)
            page.goto(srv.base + "/")
            assert "/login" in page.url

            page.get_by_role("link", name="Forgot password?").click()
            page.fill("#who", "admin")
            page.click("button[type=submit]")
            page.get_by_text("cannot send email").wait_for(timeout=10000)  # no mail server in this test
            browser.close()
    finally:
        stop_server(srv)
