"""Recording media files: H.264 MP4 segments decoded back with PyAV, and the lossless
radiometric HDF5 round trip (bit-exact), also after a kill -9 of the writer."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap

import av
import numpy as np
import pytest

from thermalstream.frame import FFCState, Frame, Radiometry
from thermalstream.record.radiometric import RadiometricOptions, RadiometricWriter, read_radiometric
from thermalstream.record.video import SegmentWriter, VideoOptions, probe_segment
from thermalstream.sources.sim import SimSource

SIM = "sim://?width=160&height=128&fps=25&seed=3&ffc=2"


@pytest.fixture(scope="module")
def sim() -> SimSource:
    return SimSource(SIM)


def _top_level_boxes(data: bytes) -> list[str]:
    boxes, i = [], 0
    while i + 8 <= len(data):
        size = int.from_bytes(data[i:i + 4], "big")
        kind = data[i + 4:i + 8].decode("latin-1")
        if size == 1:
            size = int.from_bytes(data[i + 8:i + 16], "big")
        boxes.append(kind)
        if size < 8:
            break
        i += size
    return boxes


@pytest.mark.parametrize("container", ["fragmented", "faststart"])
def test_segment_decodes_as_browser_playable_h264(tmp_path, sim, container):
    path = tmp_path / f"{container}.mp4"
    t0 = 1_700_000_000.0
    w = SegmentWriter(path, 160, 128, 25, VideoOptions(container=container))  # veryfast, crf 23
    for i in range(50):
        w.write(sim.render(i).image, t0 + i * 0.04)
    info = w.close()
    assert info.frames == 50 and info.size_bytes == path.stat().st_size > 0

    with av.open(str(path)) as c:
        st = c.streams.video[0]
        assert st.codec_context.name == "h264"
        assert st.codec_context.profile == "High"
        assert st.codec_context.pix_fmt == "yuv420p"
        frames = [f for f in c.decode(st)]
    assert abs(len(frames) - 50) <= 1
    assert frames[0].width == 160 and frames[0].height == 128
    # the picture survives: luma of the first decoded frame tracks the grey display image
    y = frames[0].to_ndarray(format="gray").astype(np.float32)
    grey = sim.render(0).image.astype(np.float32)
    assert np.corrcoef(y.ravel(), grey.ravel())[0, 1] > 0.95

    p = probe_segment(path)
    assert p.ok and p.codec == "h264" and abs(p.frames - 50) <= 1
    assert p.duration_s == pytest.approx(2.0, abs=0.05)

    boxes = _top_level_boxes(path.read_bytes())
    if container == "faststart":
        assert boxes.index("moov") < boxes.index("mdat") and "moof" not in boxes
    else:
        assert boxes.index("moov") < boxes.index("moof") and boxes.count("moof") >= 2  # keyframe every 1 s


def test_variable_frame_rate_keeps_real_time(tmp_path, sim):
    """Timestamps, not a frame counter, give the pts: irregular capture plays at real speed."""
    path = tmp_path / "vfr.mp4"
    t0 = 1_700_000_000.0
    stamps = [t0]
    rng = np.random.default_rng(1)
    for _ in range(39):
        stamps.append(stamps[-1] + float(rng.choice([0.02, 0.04, 0.1])))
    stamps[10] = stamps[9]  # a repeated timestamp must not break the file
    w = SegmentWriter(path, 160, 128, 25, VideoOptions(preset="ultrafast"))
    for i, t in enumerate(stamps):
        w.write(sim.render(i).image, t)
    w.close()
    with av.open(str(path)) as c:
        st = c.streams.video[0]
        pts = sorted(float(f.pts * st.time_base) for f in c.decode(st))
    assert len(pts) == 40
    assert pts[-1] - pts[0] == pytest.approx(stamps[-1] - stamps[0], abs=0.01)
    assert all(b > a for a, b in itertools.pairwise(pts))


def test_colour_images_and_odd_sizes_are_encoded(tmp_path, sim):
    path = tmp_path / "bgr.mp4"
    img = np.dstack([sim.render(0).image] * 3)[:127, :159]  # odd size: cropped to even for yuv420p
    w = SegmentWriter(path, 159, 127, 25, VideoOptions(preset="ultrafast", profile="main"))
    for i in range(5):
        w.write(img, 1.0 + i * 0.04)
    w.close()
    p = probe_segment(path)
    assert p.ok and p.frames == 5 and (p.width, p.height) == (158, 126)
    with av.open(str(path)) as c:  # ultrafast has no CABAC: x264 signals the (even more compatible) baseline
        assert c.streams.video[0].codec_context.profile in ("Main", "Constrained Baseline")
    with pytest.raises(ValueError):
        VideoOptions(preset="warp-speed")


def test_truncated_segment_is_read_up_to_the_damage(tmp_path, sim):
    path = tmp_path / "cut.mp4"
    w = SegmentWriter(path, 160, 128, 25, VideoOptions(preset="ultrafast", keyint_s=0.4))
    for i in range(50):
        w.write(sim.render(i).image, 1.0 + i * 0.04)
    w.close()
    data = path.read_bytes()
    (tmp_path / "half.mp4").write_bytes(data[: len(data) * 2 // 3])
    p = probe_segment(tmp_path / "half.mp4")
    assert p.ok and 10 <= p.frames < 50
    (tmp_path / "junk.mp4").write_bytes(b"\0" * 100)
    assert not probe_segment(tmp_path / "junk.mp4").ok


# ---------------------------------------------------------------------------------- radiometric


def test_radiometric_round_trip_is_bit_exact_raw(tmp_path, sim):
    frames = [sim.render(i, timestamp=1_700_000_000.0 + i / 25) for i in range(60)]  # ffc=2 s: FFC inside
    path = tmp_path / "seg.h5"
    w = RadiometricWriter(path, RadiometricOptions(flush_every=7),
                          camera={"name": "yard", "url": "rtsp://***@cam/", "id": 4})
    for f in frames:
        w.write(f)
    assert w.close() == path.stat().st_size

    got = read_radiometric(path)
    assert got.meta["kind"] == "raw" and got.data.dtype == np.uint16
    assert np.array_equal(got.data, np.stack([f.raw for f in frames]))
    assert np.array_equal(got.timestamps, np.array([f.timestamp for f in frames], np.float64))
    assert list(got.meta["seq"]) == list(range(60))
    assert got.meta["ffc"] == [f.radiometry.ffc_state.value for f in frames]
    assert FFCState.IN_PROGRESS.value in got.meta["ffc"]
    assert got.meta["unit_scale"] == 0.01 and got.meta["unit_offset"] == -273.15
    assert got.meta["sensor"] == "sim" and got.meta["calibrated"] is True
    assert got.meta["camera_name"] == "yard" and got.meta["camera_url"] == "rtsp://***@cam/"
    assert not got.meta["partial"]
    # raw -> °C with the stored mapping is within the raw quantisation of the source's °C
    assert np.abs(got.to_celsius() - frames[0].celsius[None]).max() < 60  # sanity (frames move)
    assert np.abs(got.to_celsius()[0] - frames[0].celsius).max() <= 0.0051


@pytest.mark.parametrize("compression", ["lzf", "gzip"])
def test_radiometric_round_trip_is_bit_exact_celsius(tmp_path, sim, compression):
    frames = [sim.render(i) for i in range(20)]
    # a source with temperatures but no raw counts (e.g. FLIR files after Planck)
    frames = [Frame(image=f.image, seq=f.seq, timestamp=f.timestamp, celsius=f.celsius,
                    radiometry=Radiometry(unit_scale=None, unit_offset=None, sensor="planck", extra={"emissivity": 0.95}))
              for f in frames]
    path = tmp_path / "c.h5"
    w = RadiometricWriter(path, RadiometricOptions(compression=compression))
    for f in frames:
        w.write(f)
    w.close()
    got = read_radiometric(path)
    assert got.meta["kind"] == "celsius" and got.data.dtype == np.float32
    assert np.array_equal(got.data, np.stack([f.celsius for f in frames]))
    assert got.data.tobytes() == np.stack([f.celsius for f in frames]).tobytes()  # NaN-safe, bit for bit
    assert got.meta["unit_scale"] is None and got.meta["radiometry_extra"] == {"emissivity": 0.95}
    assert np.array_equal(got.to_celsius(), got.data)


def test_radiometric_file_open_at_a_crash_keeps_flushed_frames(tmp_path):
    path = tmp_path / "crash.h5"
    script = textwrap.dedent(f"""
        import os
        from thermalstream.record.radiometric import RadiometricOptions, RadiometricWriter
        from thermalstream.sources.sim import SimSource
        src = SimSource({SIM!r})
        w = RadiometricWriter({str(path)!r}, RadiometricOptions(flush_every=10))
        for i in range(34):
            w.write(src.render(i, timestamp=1000.0 + i))
        os.kill(os.getpid(), 9)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60, check=False)
    assert proc.returncode == -9, proc.stderr.decode()
    got = read_radiometric(path)
    assert 30 <= got.meta["frames"] <= 34
    src = SimSource(SIM)
    n = got.meta["frames"]
    assert np.array_equal(got.data, np.stack([src.render(i).raw for i in range(n)]))
    assert np.array_equal(got.timestamps, 1000.0 + np.arange(n))
