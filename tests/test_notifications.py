"""Notifications: saved, listed per user, published on the bus; local time display."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from thermalstream.bus import Event, EventBus
from thermalstream.db import Notification, User, repo
from thermalstream.notifications import NotificationService, format_local, to_local


@pytest.fixture
def users(db):
    with db.session() as s:
        a, b = User(username="alice", role="admin"), User(username="bob", role="viewer", timezone="Asia/Tokyo")
        s.add_all([a, b])
        s.flush()
        return a.id, b.id


@pytest.fixture
def service(db):
    return NotificationService(db, EventBus())


def test_notify_saves_and_publishes(db, service, users):
    alice, _ = users
    got: list[Event] = []
    service.bus.subscribe(got.append, prefix="notification")
    out = service.notify("warning", "Camera offline", "yard: no frames", user_id=alice, data={"camera_id": 3})

    assert out["type"] == "warning" and out["title"] == "Camera offline" and out["read"] is False
    assert out["user_id"] == alice and out["data"] == {"camera_id": 3}
    assert out["created_at"].endswith("+00:00")
    created = datetime.fromisoformat(out["created_at"])
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=1)
    json.dumps(out)  # JSON-able as is

    assert len(got) == 1
    assert got[0].topic == "notification" and got[0].user_id == alice and got[0].data == out

    with db.session() as s:  # saved (and committed before it was published)
        row = s.get(Notification, out["id"])
        assert (row.type, row.message, row.user_id, row.data) == ("warning", "yard: no frames", alice, {"camera_id": 3})


def test_broadcast_is_published_without_user(service):
    got: list[Event] = []
    service.bus.subscribe(got.append)
    out = service.info("Server started")
    assert out["user_id"] is None and got[0].user_id is None and got[0].data["id"] == out["id"]


def test_invalid_type_is_rejected_and_not_published(db, service):
    got: list[Event] = []
    service.bus.subscribe(got.append)
    with pytest.raises(ValueError):
        service.notify("panic", "x")
    with pytest.raises(ValueError):
        service.notify("info", "")
    assert got == []
    with db.session() as s:
        assert repo.list_notifications(s, None) == []


def test_per_user_isolation(service, users):
    alice, bob = users
    a1 = service.notify("info", "for alice 1", user_id=alice)
    a2 = service.error("for alice 2", user_id=alice)
    b1 = service.success("for bob", user_id=bob)
    everyone = service.notify("info", "for everyone")

    def ids(user_id, **kw):
        return [n["id"] for n in service.list(user_id, **kw)]

    assert ids(alice) == [everyone["id"], a2["id"], a1["id"]]  # newest first, with broadcasts
    assert ids(bob) == [everyone["id"], b1["id"]]
    assert ids(None) == [everyone["id"]]
    assert ids(alice, limit=2) == [everyone["id"], a2["id"]]
    assert ids(alice, before_id=a2["id"]) == [a1["id"]]
    assert service.unread_count(alice) == 3 and service.unread_count(bob) == 2

    # bob cannot mark alice's notifications
    assert service.mark_read(bob, [a1["id"], a2["id"]]) == 0
    assert service.unread_count(alice) == 3

    assert service.mark_read(alice, [a1["id"]]) == 1
    assert service.mark_read(alice, [a1["id"]]) == 0  # already read
    assert ids(alice, unread_only=True) == [everyone["id"], a2["id"]]
    assert service.unread_count(bob) == 2

    assert service.mark_read(alice) == 2  # all she can see, the broadcast included
    assert service.unread_count(alice) == 0
    assert service.unread_count(bob) == 1  # bob's own one is untouched
    assert service.mark_read(alice, []) == 0


def test_deleting_user_removes_their_notifications(db, service, users):
    alice, bob = users
    service.notify("info", "a", user_id=alice)
    service.notify("info", "all")
    with db.session() as s:
        s.delete(s.get(User, alice))
    assert [n["title"] for n in service.list(bob)] == ["all"]


def test_to_local():
    utc = datetime(2024, 7, 1, 12, 0, tzinfo=UTC)
    ny = to_local(utc, "America/New_York")
    assert (ny.hour, ny.utcoffset()) == (8, timedelta(hours=-4)) and ny == utc
    assert to_local(datetime(2024, 1, 1, 12, 0), "Europe/Berlin").hour == 13  # naive is UTC
    assert to_local("2024-01-01T12:00:00+00:00", "Asia/Tokyo").hour == 21
    assert to_local(utc, "Not/AZone").utcoffset() == timedelta(0)
    assert to_local(utc, None).utcoffset() == timedelta(0)
    assert to_local(None, "UTC") is None
    assert format_local(utc, "Europe/Berlin", "%H:%M %Z") == "14:00 CEST"
    assert format_local(None, "UTC") == ""
