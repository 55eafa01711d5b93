"""Every REST route that takes a body answers malformed input with a clear 4xx, never a 5xx."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

from app import access

BODIES = [
    b"", b"null", b"[]", b'"text"', b"{nope", b"\xff\xfe\x00", b'{"' + b"k" * 100 + b'": 1}',
    json.dumps({"url": "x" * 200_000, "name": "y" * 10_000}).encode(),
    json.dumps({"camera_id": "1", "id": [], "enabled": "yes", "palette": 5, "username": {}, "password": []}).encode(),
    json.dumps({"ünïcödé": "🙂" * 50, "name": "\u202e\u0000", "days_of_week": "funday", "start_time": "25:99"}).encode(),
    json.dumps({"a": {"b": {"c": {"d": [1, [2, [3, [4]]]]}}}}).encode(),
]


def concrete(pattern: str) -> str:
    path = re.sub(r"\(\?P<action>[^)]*\)", "connect", pattern)
    return re.sub(r"\(\?P<\w+>[^)]*\)", "1", path).replace("\\.", ".")


def test_no_server_errors_on_malformed_bodies(server):
    status, cam = server.request("POST", "/api/cameras", {"url": "sim://?width=160&height=128"})
    assert status == 201
    answered = 0
    for pattern, methods in access.ROUTES.items():
        if not pattern.startswith("/api/"):
            continue
        for method in methods:
            if method not in ("POST", "PUT", "PATCH"):
                continue
            for body in BODIES:
                req = urllib.request.Request(server.base + concrete(pattern), data=body, method=method,
                                             headers={**server.headers(), "Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(req, timeout=30) as r:
                        code = r.status
                except urllib.error.HTTPError as exc:
                    code = exc.code
                    payload = exc.read()
                    assert code < 500, f"{method} {pattern} with {body[:60]!r} gave {code}: {payload[:200]!r}"
                    if code != 413 and payload:
                        assert "error" in json.loads(payload), f"{method} {pattern}: unclear error {payload[:200]!r}"
                answered += 1
    assert answered > 100


@pytest.mark.parametrize("query", ["camera=abc", "limit=-5", "limit=999999", "since=not-a-time", "class=%00",
                                   "min_confidence=nan", "offset=-1", "until=2026-13-45"])
def test_no_server_errors_on_malformed_queries(server, query):
    for path in ("/api/detections", "/api/events", "/api/recordings", "/api/schedules", "/api/storage/samples"):
        status, body = server.request("GET", f"{path}?{query}")
        assert status < 500, f"{path}?{query} gave {status}: {body}"
