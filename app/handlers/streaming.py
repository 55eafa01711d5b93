"""Live video to browsers and tools: binary WebSocket, multipart MJPEG, single snapshots.

Each camera's frames are encoded once by its LiveEncoder. Every viewer holds only the
newest encoded frame: while a send to a slow viewer is in flight, newer frames replace the
pending one, so no queue ever grows.
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
import time

import tornado.ioloop
import tornado.iostream
import tornado.web
import tornado.websocket

from app import access
from app.access import about_visible_camera
from app.handlers.base import ApiError, BaseHandler, Guarded, http_error
from thermalstream.cameras import CameraNotFound
from thermalstream.live import EncodedFrame, LiveEncoder

log = logging.getLogger(__name__)
BOUNDARY = "thermalstreamframe"
SESSION_CHECK_S = 5.0  # how often an open socket re-reads its user's session (changes made by the CLI)
SESSION_ENDED = 4001  # close code: the user's sessions ended (logout, password/role change, deleted)
CAMERA_HIDDEN = 4004  # close code: the camera was unshared from this user (or deleted)


class LatestOnly:
    """Bridges the encoder thread to the event loop, keeping only the newest frame."""

    def __init__(self, encoder: LiveEncoder, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._event = asyncio.Event()
        self._frame: EncodedFrame | None = None
        self.skipped = 0
        self._remove = encoder.add_listener(self._on_frame)

    def _on_frame(self, frame: EncodedFrame) -> None:  # encoder thread
        if self._frame is not None:
            self.skipped += 1
        self._frame = frame
        self._loop.call_soon_threadsafe(self._event.set)

    async def next(self, timeout: float = 10.0) -> EncodedFrame | None:
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except asyncio.TimeoutError:
            return None
        self._event.clear()
        frame, self._frame = self._frame, None
        return frame

    def close(self) -> None:
        self._remove()


def wire_message(frame: EncodedFrame) -> bytes:
    """The /ws/video message: 8-byte big-endian capture time in ms, then the JPEG. A frame from a
    worker process arrives already framed (``wire``) and goes to every viewer as it is."""
    wire = getattr(frame, "wire", None)
    return wire if wire is not None else struct.pack(">d", frame.timestamp * 1000.0) + frame.jpeg


def _encoder(handler: Guarded, cid: str) -> LiveEncoder:
    try:
        return handler.runtime.encoder(handler.require_camera(int(cid)))
    except (ValueError, CameraNotFound):
        raise ApiError(404, f"camera {cid} is not connected") from None


class GuardedSocket(Guarded, tornado.websocket.WebSocketHandler):
    """A WebSocket whose handshake is checked like any request (cookie or Bearer token)."""

    def initialize(self, runtime, route: str) -> None:
        self.runtime = runtime
        self.route = route

    def prepare(self) -> None:
        try:
            self.guard()
        except ApiError as exc:
            raise http_error(exc) from None

    def check_origin(self, origin: str) -> bool:
        return self.runtime.origin_allowed(origin, self.request.host)

    def watch_session(self) -> None:
        """Close this socket as soon as its user's sessions end: at once for changes made in this
        server (bus topic ``user.sessions``), within SESSION_CHECK_S for changes made elsewhere.
        A change of a camera's shares (``camera.shares``) calls :meth:`shares_changed`."""
        p = self.principal
        if p is None:
            return
        users = self.runtime.auth.users
        self._session = users.session_version(p.user_id)
        loop = asyncio.get_running_loop()

        def ended(event) -> None:  # any thread
            if event.data.get("user_id") == p.user_id:
                loop.call_soon_threadsafe(self.check_session)

        def shared(_event) -> None:
            loop.call_soon_threadsafe(self.shares_changed)

        unsubs = [self.runtime.bus.subscribe(ended, "user.sessions"),
                  self.runtime.bus.subscribe(shared, "camera.shares")]
        self._unwatch = lambda: [u() for u in unsubs]
        self._poll = tornado.ioloop.PeriodicCallback(self.check_session, SESSION_CHECK_S * 1000)
        self._poll.start()

    def shares_changed(self) -> None:
        """Who may see which camera changed; subclasses re-check what they show."""

    def check_session(self) -> None:
        if self.ws_connection is None or self.principal is None:
            return
        try:
            current = self.runtime.auth.users.session_version(self.principal.user_id)
        except Exception:  # noqa: BLE001 - a database hiccup is not a logout; the next check retries
            return
        if current is None or current != self._session:
            self.close(SESSION_ENDED, "your session has ended; log in again")

    def unwatch_session(self) -> None:
        if getattr(self, "_poll", None) is not None:
            self._poll.stop()
            self._poll = None
        if getattr(self, "_unwatch", None) is not None:
            self._unwatch()
            self._unwatch = None


class VideoSocket(GuardedSocket):
    """/ws/video/{id}: binary messages, each an 8-byte big-endian capture time in ms, then a JPEG."""

    feed: LatestOnly | None = None

    def prepare(self) -> None:
        """Refuse the handshake (404) for cameras that are not connected or not visible to this user."""
        super().prepare()
        try:
            self.encoder = _encoder(self, self.path_kwargs["cid"])
        except ApiError as exc:
            raise http_error(exc) from None

    def shares_changed(self) -> None:
        if self.ws_connection is None:
            return
        try:
            self.require_camera(int(self.path_kwargs["cid"]))
        except ApiError:
            self.close(CAMERA_HIDDEN, "you may no longer see this camera")

    async def open(self, cid: str) -> None:
        self.feed = LatestOnly(self.encoder, asyncio.get_running_loop())
        self.watch_session()
        asyncio.ensure_future(self._pump())

    async def _pump(self) -> None:
        feed = self.feed
        while feed is not None and self.ws_connection is not None:
            frame = await feed.next()
            if frame is None:
                continue
            try:
                await self.write_message(wire_message(frame), binary=True)
            except (tornado.websocket.WebSocketClosedError, tornado.iostream.StreamClosedError):
                return

    def on_message(self, message) -> None:  # viewers only listen
        pass

    def on_close(self) -> None:
        self.unwatch_session()
        if self.feed is not None:
            self.feed.close()
            self.feed = None


class UpdatesSocket(GuardedSocket):
    """/ws/updates: JSON events (camera status, notifications) as they happen, only those this user
    may see: notifications for everyone or for this user, and events of visible cameras."""

    _unsub = None

    def open(self) -> None:
        loop = asyncio.get_running_loop()
        me = self.principal.user_id if self.principal else None
        self.visible = visible = self.visible_cameras()

        def deliver(event) -> None:  # any thread
            if event.user_id is not None and event.user_id != me:
                return
            if not about_visible_camera(event.data, self.visible) or not about_visible_camera(
                    event.data.get("data") or {}, self.visible):  # notifications carry the camera in data
                return
            msg = json.dumps({"topic": event.topic, "data": event.data}, default=str)
            loop.call_soon_threadsafe(self._send, msg)

        self._unsub = self.runtime.bus.subscribe(deliver)
        self.watch_session()
        hello = {"cameras": self.runtime.cameras.list(visible), "user": me and self.principal.username}
        self._send(json.dumps({"topic": "hello", "data": hello}, default=str))

    def shares_changed(self) -> None:
        self.visible = self.visible_cameras()  # events of cameras unshared from this user stop at once

    def _send(self, msg: str) -> None:
        if self.ws_connection is None:
            return
        try:
            self.write_message(msg)
        except tornado.websocket.WebSocketClosedError:
            pass

    def on_message(self, message) -> None:
        """Commands: ``{"type": "detect", "camera_id": 1, "enabled": true}`` switches detection."""
        try:
            msg = json.loads(message)
            if not isinstance(msg, dict) or msg.get("type") != "detect":
                raise ValueError("unknown command; expected {\"type\": \"detect\", \"camera_id\", \"enabled\"}")
            cid, on = msg.get("camera_id"), msg.get("enabled")
            if not isinstance(cid, int) or not isinstance(on, bool):
                raise ValueError("camera_id (integer) and enabled (true/false) are required")
            if not self.allowed("operator"):
                raise PermissionError("switching detection needs the operator role")
            self.require_camera(cid)
            config = self.runtime.detection.enable(cid, on)
            self._send(json.dumps({"topic": "detect.ok", "data": {"camera_id": cid, **config}}, default=str))
        except ApiError as exc:
            self._send(json.dumps({"topic": "error", "data": {"message": exc.message}}))
        except (ValueError, LookupError, PermissionError) as exc:
            self._send(json.dumps({"topic": "error", "data": {"message": str(exc)}}))

    def allowed(self, role: str) -> bool:
        return self.principal is not None and access.allows(self.principal.role, role)

    def on_close(self) -> None:
        self.unwatch_session()
        if self._unsub:
            self._unsub()


class MJPEGHandler(BaseHandler):
    openapi = {
        "get": {
            "summary": "Live multipart MJPEG stream",
            "tags": ["live"],
            "responses": {"200": {"description": "multipart/x-mixed-replace stream of JPEGs"},
                          "404": {"description": "Camera not connected"}},
        }
    }

    async def get(self, cid: str) -> None:
        encoder = _encoder(self, cid)
        self.set_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        feed = LatestOnly(encoder, asyncio.get_running_loop())
        session = self.runtime.auth.users.session_version(self.principal.user_id) if self.principal else None
        checked = time.monotonic()
        try:
            while True:
                if time.monotonic() - checked > SESSION_CHECK_S:  # the stream ends with the session or the share
                    checked = time.monotonic()
                    if not self._still_allowed(int(cid), session):
                        break
                frame = await feed.next()
                if frame is None:
                    continue
                self.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(frame.jpeg)}\r\n\r\n".encode())
                self.write(frame.jpeg)
                self.write(b"\r\n")
                await self.flush()
        except tornado.iostream.StreamClosedError:
            pass
        finally:
            feed.close()

    def _still_allowed(self, camera_id: int, session: int | None) -> bool:
        try:
            if self.principal is None or self.runtime.auth.users.session_version(self.principal.user_id) != session:
                return False
            self.require_camera(camera_id)
        except ApiError:
            return False
        except Exception:  # noqa: BLE001 - a database hiccup is not a logout; checked again later
            return True
        return True


class SnapshotHandler(BaseHandler):
    openapi = {
        "get": {
            "summary": "The newest frame as JPEG",
            "tags": ["live"],
            "responses": {"200": {"description": "image/jpeg"}, "404": {"description": "Camera not connected"},
                          "503": {"description": "No frame yet"}},
        }
    }

    def get(self, cid: str) -> None:
        frame = _encoder(self, cid).snapshot()
        if frame is None:
            raise ApiError(503, f"camera {cid} has no frame yet")
        self.set_header("Content-Type", "image/jpeg")
        self.finish(frame.jpeg)
