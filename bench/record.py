"""Benchmark recording: H.264 encode speed per x264 preset, CPU per recorded frame, and N
simulated cameras recorded at once.

    .venv/bin/python bench/record.py [--size 640x512] [--frames 150] [--cameras 8] [--fps 25]
                                     [--seconds 10] [--multi ultrafast+h5,ultrafast,veryfast]

Prints
  1. single-thread encode of --frames simulated frames at --size (x264 threads=1, what the
     recorder uses): fps and CPU ms per frame for each preset, against baselines measured in
     the same run: copying the frame (no encode), OpenCV ``mp4v`` (not browser-playable),
     and remuxing the same H.264 packets into a new MP4 without re-encoding (what recording an
     H.264 RTSP camera would cost); plus the lossless radiometric HDF5 write (lzf+shuffle).
  2. --cameras paced simulated cameras (--fps, --size) recorded at once for --seconds, for each
     configuration in --multi (preset; "+h5" adds the radiometric HDF5 files, lzf; "+h5none"
     uncompressed), against the
     same cameras captured without recording: frames recorded, dropped frames, process CPU %
     (100 % = one core) and CPU ms per recorded frame net of capture.
  3. RTSP camera recorded by remux vs re-encode: --frames frames of a loopback H.264 RTSP camera
     (RTSPServer, --size, 25 fps) received through the PyAV RTSP source (decode to BGR: the same
     in both ways), then recorded into fMP4 segments by copying its packets (RemuxSegmentWriter,
     what the recorder does for H.264 cameras) and by re-encoding the decoded images with x264
     (SegmentWriter): CPU ms per recorded frame, and the saving.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import av
import cv2
import numpy as np

from thermalstream.capture import Camera
from thermalstream.record.radiometric import RadiometricOptions, RadiometricWriter
from thermalstream.record.recorder import Recorder
from thermalstream.record.remux import RemuxSegmentWriter
from thermalstream.record.video import SegmentWriter, VideoOptions
from thermalstream.sources.sim import SimSource


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timed(fn, n: int) -> tuple[float, float]:
    """(fps, CPU ms per frame) of fn() called for n frames."""
    c0, t0 = cpu(), time.perf_counter()
    fn()
    wall, c = time.perf_counter() - t0, cpu() - c0
    return n / wall, 1000 * c / n


def encode_table(w: int, h: int, n: int, tmp: Path) -> None:
    src = SimSource(f"sim://?width={w}&height={h}&seed=1")
    frames = [src.render(i, timestamp=1_700_000_000 + i / 25) for i in range(n)]
    rows = []

    def copy():
        for f in frames:
            f.image.copy()

    rows.append(("baseline: copy frame, no encode", *timed(copy, n), ""))

    def mp4v():
        vw = cv2.VideoWriter(str(tmp / "mp4v.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 25, (w, h), isColor=False)
        for f in frames:
            vw.write(f.image)
        vw.release()

    rows.append(("baseline: OpenCV mp4v (not for browsers)", *timed(mp4v, n), _size(tmp / "mp4v.mp4", n)))

    for preset in ("ultrafast", "superfast", "veryfast"):
        path = tmp / f"{preset}.mp4"

        def enc(preset=preset, path=path):
            sw = SegmentWriter(path, w, h, 25, VideoOptions(preset=preset))
            for f in frames:
                sw.write(f.image, f.timestamp)
            sw.close()

        rows.append((f"PyAV libx264 {preset} crf23 (fMP4)", *timed(enc, n), _size(path, n)))

    def remux():
        with av.open(str(tmp / "veryfast.mp4")) as inp, av.open(str(tmp / "remux.mp4"), "w",
                                                                 options={"movflags": "+faststart"}) as out:
            ist = inp.streams.video[0]
            ost = out.add_stream_from_template(ist)
            for pkt in inp.demux(ist):
                if pkt.dts is None:
                    continue
                pkt.stream = ost
                out.mux(pkt)

    rows.append(("remux the H.264 packets (no re-encode)", *timed(remux, n), _size(tmp / "remux.mp4", n)))

    for comp in ("none", "lzf", "gzip"):
        path = tmp / f"rad-{comp}.h5"

        def h5(comp=comp, path=path):
            rw = RadiometricWriter(path, RadiometricOptions(compression=comp))
            for f in frames:
                rw.write(f)
            rw.close()

        raw = frames[0].raw.nbytes
        label = "uncompressed" if comp == "none" else f"{comp}+shuffle"
        rows.append((f"radiometric HDF5 raw uint16 {label}", *timed(h5, n),
                     f"{path.stat().st_size / n / 1024:.0f} kB/frame ({100 * path.stat().st_size / n / raw:.0f} % of raw)"))

    print(f"\n1. One encoder thread, {n} frames of {w}x{h} (white-hot grey, sim), x264 threads=1")
    print(f"   {'':46s} {'fps':>8s} {'CPU ms/frame':>13s}  size")
    for name, fps, ms, size in rows:
        print(f"   {name:46s} {fps:8.0f} {ms:13.2f}  {size}")


def rtsp_table(w: int, h: int, n: int, tmp: Path) -> None:
    """RTSP camera recorded by remux vs re-encode (same received frames, same decode)."""
    from thermalstream.simulate.rtsp import RTSPServer
    from thermalstream.sources import make_source

    srv = RTSPServer(f"sim://?width={w}&height={h}&fps=25&seed=3&people=3", port=0, gop_seconds=1.0).start()
    try:
        src = make_source(srv.url)
        src.open()
        frames = []
        dec = 0.0
        try:
            while len(frames) < n or not frames[0].packet.keyframe:
                t = time.thread_time()
                f = src.read()
                dec += time.thread_time() - t
                if frames or f.packet.keyframe:  # a segment starts on a keyframe
                    frames.append(f)
        finally:
            src.close()
    finally:
        srv.stop()
    frames = frames[:n]
    rows = [("receive + decode to BGR (PyAV, both ways)", float("nan"), 1000 * dec / len(frames), "")]

    def rmx():
        rw = RemuxSegmentWriter(tmp / "rtsp-remux.mp4", frames[0].packet, 25)
        for f in frames:
            rw.write(f.packet, f.timestamp)
        rw.close()

    rows.append(("record by remux (copy the H.264 packets)", *timed(rmx, n), _size(tmp / "rtsp-remux.mp4", n)))
    for preset in ("ultrafast", "veryfast"):
        path = tmp / f"rtsp-{preset}.mp4"

        def enc(preset=preset, path=path):
            sw = SegmentWriter(path, w, h, 25, VideoOptions(preset=preset))
            for f in frames:
                sw.write(f.image, f.timestamp)
            sw.close()

        rows.append((f"record by re-encode, libx264 {preset}", *timed(enc, n), _size(path, n)))
    print(f"\n3. RTSP camera recorded by remux vs re-encode: {n} frames of {w}x{h} H.264 @ 25 fps "
          f"(loopback RTSPServer, PyAV source)")
    print(f"   {'':46s} {'fps':>8s} {'CPU ms/frame':>13s}  size")
    for name, fps, ms, size in rows:
        print(f"   {name:46s} {'' if math.isnan(fps) else f'{fps:8.0f}':>8s} {ms:13.2f}  {size}")
    remux_ms = rows[1][2]
    for name, _, ms, _ in rows[2:]:
        print(f"   remux saves {ms - remux_ms:.2f} CPU ms per recorded frame vs {name.split(', ')[-1]} "
              f"({(ms - remux_ms) * 25 / 10:.1f} % of a core per 25 fps camera)")


def _size(path: Path, n: int) -> str:
    return f"{path.stat().st_size / n / 1024:.1f} kB/frame"


def multi(cameras: int, fps: float, w: int, h: int, seconds: float, config: str | None, tmp: Path) -> dict:
    url = f"sim://?width={w}&height={h}&fps={fps:g}&people=3"
    cams = [Camera(url + f"&seed={i}", camera_id=i) for i in range(cameras)]
    for c in cams:
        c.start()
    for c in cams:
        c.read(timeout=30)
    recs = []
    if config:
        preset, _, extra = config.partition("+")
        comp = "none" if extra == "h5none" else "lzf"
        for c in cams:
            recs.append(Recorder(c, tmp / f"{config}-{c.id}", segment_seconds=10, reserve_bytes=0,
                                 video=VideoOptions(preset=preset), radiometric=extra.startswith("h5"),
                                 radiometric_options=RadiometricOptions(compression=comp)).start())
    time.sleep(1.0)  # warm up: encoders opened, queues steady
    f0 = [r.frames for r in recs]
    d0 = [r.dropped for r in recs]
    cap0 = sum(c.stats().frames for c in cams)
    c0, t0 = cpu(), time.perf_counter()
    time.sleep(seconds)
    c1, t1 = cpu(), time.perf_counter()
    cap1 = sum(c.stats().frames for c in cams)
    f1 = [r.frames for r in recs]
    d1 = [r.dropped for r in recs]
    for r in recs:
        r.stop()
    total_dropped = sum(r.dropped for r in recs)
    for c in cams:
        c.stop()
    size = sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file() and f.parent.name.startswith(f"{config}-")) if config else 0
    return {
        "config": config or "capture only (no recording)",
        "captured_fps": (cap1 - cap0) / (t1 - t0),
        "recorded": sum(f1) - sum(f0),
        "dropped_window": sum(d1) - sum(d0),
        "dropped_total": total_dropped,
        "cpu_pct": 100 * (c1 - c0) / (t1 - t0),
        "cpu_s": c1 - c0,
        "size_mb": size / 1e6,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="640x512")
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--cameras", type=int, default=8)
    ap.add_argument("--fps", type=float, default=25.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--multi", default="ultrafast,veryfast,ultrafast+h5,ultrafast+h5none",
                    help="comma-separated presets for part 2; '+h5' also writes the radiometric HDF5 (lzf), "
                         "'+h5none' uncompressed")
    ap.add_argument("--skip-encode", action="store_true")
    ap.add_argument("--skip-rtsp", action="store_true", help="skip part 3 (RTSP remux vs re-encode)")
    ap.add_argument("--skip-multi", action="store_true", help="skip part 2 (N cameras at once)")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    print(f"bench/record.py on {os.cpu_count()} CPU(s); PyAV {av.__version__}, OpenCV {cv2.__version__}, "
          f"numpy {np.__version__}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-record-"))
    try:
        if not args.skip_encode:
            encode_table(w, h, args.frames, tmp)
        if not args.skip_rtsp:
            rtsp_table(w, h, args.frames, tmp)
        if args.skip_multi:
            return
        print(f"\n2. {args.cameras} simulated cameras {w}x{h} @ {args.fps:g} fps recorded at once for {args.seconds:g} s "
              f"(one Recorder thread per camera, queue 64, 10 s segments)")
        base = multi(args.cameras, args.fps, w, h, args.seconds, None, tmp)
        results = [base]
        for cfg in [c for c in args.multi.split(",") if c]:
            results.append(multi(args.cameras, args.fps, w, h, args.seconds, cfg, tmp))
        print(f"   {'configuration':30s} {'capture fps':>11s} {'recorded':>9s} {'dropped':>8s} {'CPU %':>7s} "
              f"{'net CPU ms/rec. frame':>22s} {'MB/s':>6s}")
        for r in results:
            net = ""
            if r["recorded"]:
                net = f"{1000 * (r['cpu_s'] - base['cpu_s']) / r['recorded']:.2f}"
            mbps = f"{r['size_mb'] / (args.seconds + 1):.2f}" if r["size_mb"] else ""
            dropped = "" if r["config"].startswith("capture") else f"{r['dropped_total']}"
            print(f"   {r['config']:30s} {r['captured_fps']:11.1f} {r['recorded'] or '':>9} {dropped:>8s} "
                  f"{r['cpu_pct']:7.0f} {net:>22s} {mbps:>6s}")
        print("   (dropped: whole run incl. warm-up and stop; CPU %: 100 = one core; net = minus the capture-only row)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
