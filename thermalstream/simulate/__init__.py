"""Serve simulated (or any) cameras on loopback for demos and tests.

* :class:`MJPEGServer` - MJPEG over HTTP (``/stream.mjpg``, ``/snapshot.jpg``, ``/garbage``).
* :class:`RTSPServer` - H.264 over RTSP (TCP interleaved or UDP), self-contained.
* :func:`run_simulator` - blocking helper for the ``thermalstream simulate`` command.
"""

from __future__ import annotations

import threading
from typing import Callable

from thermalstream.simulate.mjpeg import MJPEGServer
from thermalstream.simulate.rtsp import RTSPServer

KINDS = ("mjpeg", "rtsp")
DEFAULT_PORTS = {"mjpeg": 8080, "rtsp": 8554}


def make_server(kind: str = "mjpeg", source_url: str = "sim://", host: str = "127.0.0.1", port: int | None = None):
    """Build (not start) a server of ``kind`` ("mjpeg" or "rtsp"); ``port=None`` uses 8080/8554."""
    kind = kind.lower()
    if kind not in KINDS:
        raise ValueError(f"unknown simulator kind {kind!r}; choose one of {', '.join(KINDS)}")
    port = DEFAULT_PORTS[kind] if port is None else int(port)
    if kind == "mjpeg":
        return MJPEGServer(source_url, host=host, port=port)
    return RTSPServer(source_url, host=host, port=port)


def run_simulator(
    kind: str = "mjpeg",
    url: str = "sim://",
    host: str = "127.0.0.1",
    port: int | None = None,
    *,
    stop: threading.Event | None = None,
    on_ready: Callable[[str], None] | None = print,
) -> None:
    """Serve ``url`` as ``kind`` until KeyboardInterrupt (or until ``stop`` is set).

    ``on_ready`` is called with the stream URL once the server listens (default: print it).
    """
    server = make_server(kind, url, host, port)
    server.start()
    try:
        if on_ready is not None:
            on_ready(server.url)
        waiter = stop or threading.Event()
        while not waiter.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


serve = run_simulator

__all__ = ["KINDS", "MJPEGServer", "RTSPServer", "make_server", "run_simulator", "serve"]
