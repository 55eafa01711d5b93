"""The link from a worker process to the server (workers/child.py): reports leave through one sender
thread, framed as ``multiprocessing.Connection`` frames them, over a real pipe read as the server
reads it. A server that does not read (busy, or its process descheduled) never blocks the threads
that make the reports: capture and encoding go on, and only the newest picture per camera waits.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time

import pytest

from thermalstream.config import Settings
from thermalstream.workers import child
from thermalstream.workers.child import FrameHeader, child_main, send_loop
from thermalstream.workers.outbox import Outbox
from thermalstream.workers.protocol import Command, Hello, LiveFrame, Reply, Shutdown, StatusReport


def read_report(conn):
    """One report as ProcessBackend._receive reads it."""
    msg = conn.recv()
    if isinstance(msg, FrameHeader):
        return LiveFrame(msg.camera_id, msg.seq, msg.timestamp, conn.recv_bytes(), msg.scale)
    return msg


def test_reports_arrive_as_the_server_reads_them():
    server, worker = mp.Pipe(duplex=True)
    box = Outbox()
    big = bytes(range(256)) * 2048  # 512 KiB: more than the socket takes at once (partial writes)
    box.put(Hello("w1", 42))
    box.put(LiveFrame.make(3, 7, 1.5, big, (20.0, 30.0, "°C")))
    box.put(StatusReport(3, "live"))
    box.put(Reply(9, value={"id": 1}))
    box.put(child._DONE)
    sender = threading.Thread(target=send_loop, args=(worker.fileno(), box), daemon=True)
    sender.start()
    got = [read_report(server) for _ in range(4)]
    sender.join(5)
    assert not sender.is_alive(), "the sender did not end after the last report"
    assert got[:3] == [Hello("w1", 42), StatusReport(3, "live"), Reply(9, value={"id": 1})]  # in order
    frame = got[3]
    assert (frame.camera_id, frame.seq, frame.timestamp, frame.scale) == (3, 7, 1.5, (20.0, 30.0, "°C"))
    assert frame.jpeg == big and frame.wire == LiveFrame.make(3, 7, 1.5, big).wire


def test_an_unpicklable_answer_becomes_an_error_reply_and_the_link_goes_on():
    server, worker = mp.Pipe(duplex=True)
    box = Outbox()
    box.put(Reply(5, value=threading.Lock()))  # cannot be pickled
    box.put(StatusReport(1, "live"))
    box.put(child._DONE)
    send_loop(worker.fileno(), box)
    reply = read_report(server)
    assert reply.request_id == 5 and reply.error_type == "WorkerError" and "cannot be sent" in reply.error
    assert read_report(server) == StatusReport(1, "live")


class _Producer:
    """Stands in for WorkerCore in child_main: two cameras' encoder threads emitting 200 KB pictures
    as fast as they can, each put timed; commands are answered as WorkerCore answers them."""

    FRAMES = 150

    def __init__(self, settings, worker_id, emit) -> None:
        self.worker_id, self.emit = worker_id, emit
        self.slowest_put = 0.0
        self.produced = threading.Event()
        self.stopped = False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        jpeg = b"\xff\xd8" + bytes(200_000)
        for seq in range(self.FRAMES):
            for cid in (1, 2):
                t0 = time.monotonic()
                self.emit(LiveFrame.make(cid, seq, float(seq), jpeg))
                self.slowest_put = max(self.slowest_put, time.monotonic() - t0)
        self.produced.set()

    def command(self, camera_id, name, args):
        return {"slowest_put": self.slowest_put, "produced": self.produced.is_set()}

    def stop(self) -> None:
        self.stopped = True
        self.emit(StatusReport(1, "stopped"))  # a last report made while stopping still leaves


def test_a_server_that_does_not_read_never_blocks_the_worker(monkeypatch):
    """Before the sender thread, each picture was written by its encoder thread under a lock shared
    by every report: 60 MB of pictures into a pipe nobody reads blocked the first camera's encoder
    after a few pictures, and the other camera's with it."""
    monkeypatch.setattr("thermalstream.workers.core.WorkerCore", _Producer)
    server, worker = mp.Pipe(duplex=True)
    main = threading.Thread(target=child_main, args=(worker, Settings(), "w1"), daemon=True)
    main.start()
    time.sleep(2.0)  # the server reads nothing meanwhile
    server.send(Command(1, "state", {}, request_id=1))
    frames: dict[int, LiveFrame] = {}
    others = []
    while True:
        msg = read_report(server)
        if isinstance(msg, LiveFrame):
            frames[msg.camera_id] = msg
        elif isinstance(msg, Reply):
            break
        else:
            others.append(msg)
    assert others == [Hello("w1", os.getpid())]
    assert msg.value["produced"], "the encoders were still blocked 2 s after they started"
    assert msg.value["slowest_put"] < 0.5, f"an encoder waited {msg.value['slowest_put']:.2f} s for the pipe"
    # what reached the server ends with each camera's newest picture: latest frame wins
    while {f.seq for f in frames.values()} != {_Producer.FRAMES - 1} and server.poll(5):
        msg = read_report(server)
        if isinstance(msg, LiveFrame):
            frames[msg.camera_id] = msg
    assert {cid: f.seq for cid, f in frames.items()} == {1: _Producer.FRAMES - 1, 2: _Producer.FRAMES - 1}
    server.send(Shutdown())
    assert read_report(server) == StatusReport(1, "stopped")  # sent after stop(), before the process ends
    main.join(5)
    assert not main.is_alive()


@pytest.mark.parametrize("size", [0, 1, 16384, 16385, 3_000_000])
def test_framing_matches_connection(size):
    """Every size frames as Connection.send_bytes does (it switches at 16 KiB; empty records too)."""
    server, worker = mp.Pipe(duplex=True)
    payload = bytes(size)
    box = Outbox()
    box.put(LiveFrame(1, 1, 0.0, payload))
    box.put(child._DONE)
    threading.Thread(target=send_loop, args=(worker.fileno(), box), daemon=True).start()
    assert read_report(server).wire == payload
