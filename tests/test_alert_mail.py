"""Alert emails: a real SMTP server receives one mail per new event, only for users who opted in
and may see the camera."""

from __future__ import annotations

from tests.auth_fixtures import Inbox, parts, start_smtp
from tests.conftest import start_server, stop_server, wait_for

SIM = "sim://?people=1&vehicle=0&animal=0&seed=10&width=320&height=256&fps=25"


def test_event_alert_mail_goes_to_opted_in_users_who_see_the_camera(tmp_path):
    inbox = Inbox()
    smtp = start_smtp(inbox)
    srv = start_server(tmp_path, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_security="none",
                       hotspot_threshold_c=26.0)
    try:
        users = srv.runtime.auth.users
        users.create("vera", "vera has a long password", "viewer", "vera@example.test", email_alerts=True)
        users.create("wim", "wim has a long password", "viewer", "wim@example.test", email_alerts=True)
        users.create("otto", "otto has a long password", "operator", "otto@example.test")  # not opted in
        status, cam = srv.request("POST", "/api/cameras", {"url": SIM, "name": "Gate"})
        cid = cam["id"]
        srv.runtime.cameras.share(cid, user_id=users.get("vera")["id"])  # wim may not see it
        wait_for(lambda: srv.camera(cid)["status"] == "live", what="live")
        srv.request("PATCH", f"/api/cameras/{cid}/detection", {"enabled": True})
        msgs = inbox.wait(1, timeout=40)
        srv.runtime.auth.mailer.wait_idle(5)
        to = sorted(m["To"] for m in inbox.messages)
        assert "vera@example.test" in to
        assert "wim@example.test" not in to and "otto@example.test" not in to
        text, html = parts(msgs[0])
        assert "Gate" in msgs[0]["Subject"] and "hotspot" in text.lower() and "<" in html
    finally:
        stop_server(srv)
        smtp.stop()
