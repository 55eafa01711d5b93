"""Camera URL parsing, classification and credential masking."""

from __future__ import annotations

import pytest

from thermalstream.sources.url import CameraURLError, mask_credentials, parse_camera_url


@pytest.mark.parametrize(
    "url, kind, device",
    [
        ("0", "usb", 0),
        (" 2 ", "usb", 2),
        ("/dev/video4", "usb", "/dev/video4"),
        ("lepton://0", "lepton", 0),
        ("lepton:///dev/video1", "lepton", "/dev/video1"),
        ("tc001://1", "topdon", 1),
        ("p2pro://", "topdon", 0),
    ],
)
def test_devices(url, kind, device):
    cu = parse_camera_url(url)
    assert (cu.kind, cu.device) == (kind, device)


@pytest.mark.parametrize(
    "url, kind",
    [
        ("rtsp://cam.local:554/stream1", "rtsp"),
        ("RTSP://cam/x", "rtsp"),
        ("rtsps://cam/x", "rtsp"),
        ("http://10.0.0.5/video.mjpg", "http"),
        ("https://cam/snapshot.jpg?fps=2", "http"),
        ("sim://?people=3", "sim"),
        ("sim://", "sim"),
    ],
)
def test_network_and_sim(url, kind):
    assert parse_camera_url(url).kind == kind


def test_sim_params():
    assert parse_camera_url("sim://?people=3&seed=7").params == {"people": "3", "seed": "7"}


def test_files_are_classified_by_extension(tmp_path):
    for name, kind in [("a.mp4", "file"), ("b.MKV", "file"), ("c.cptv", "cptv"), ("d.seq", "flir"), ("e.fff", "flir")]:
        p = tmp_path / name
        p.write_bytes(b"x")
        assert parse_camera_url(str(p)).kind == kind
        assert parse_camera_url(f"file://{p}").path == p


@pytest.mark.parametrize(
    "url, message",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("ftp://host/x", "unsupported scheme"),
        ("rtsp://", "no host"),
        ("http://:80/x", "no host"),
        ("http://host:70000/", "malformed"),
        ("http://host:abc/", "malformed"),
        ("rtsp://host/a\nb", "control characters"),
        ("/dev/videoX", "not a video device"),
        ("lepton://cam", "not a video device"),
        ("readme.txt", "cannot tell"),
        ("/no/such/file.mp4", "file not found"),
    ],
)
def test_bad_urls_have_clear_errors(url, message):
    with pytest.raises(CameraURLError, match=message):
        parse_camera_url(url)


def test_non_string():
    with pytest.raises(CameraURLError):
        parse_camera_url(None)  # type: ignore[arg-type]


def test_errors_never_contain_passwords():
    with pytest.raises(CameraURLError) as exc:
        parse_camera_url("rtsp://admin:s3cret@host:99999/x")
    assert "s3cret" not in str(exc.value) and "admin:***@" in str(exc.value)


@pytest.mark.parametrize(
    "url, masked",
    [
        ("rtsp://admin:s3cret@10.0.0.2:554/h264", "rtsp://admin:***@10.0.0.2:554/h264"),
        ("http://user@cam/x", "http://user@cam/x"),
        ("http://cam/snap.jpg?user=a&password=b&fps=2", "http://cam/snap.jpg?user=a&password=***&fps=2"),
        ("https://cam/x?token=abc", "https://cam/x?token=***"),
        ("sim://?people=3", "sim://?people=3"),
        ("/data/clip.mp4", "/data/clip.mp4"),
    ],
)
def test_masking(url, masked):
    assert mask_credentials(url) == masked


def test_str_and_repr_are_masked():
    cu = parse_camera_url("rtsp://admin:s3cret@host/x")
    assert "s3cret" not in str(cu) and "s3cret" not in repr(cu)


def test_file_options_are_kept(tmp_path):
    p = tmp_path / "run.seq"
    p.write_bytes(b"x")
    assert parse_camera_url(f"{p}?loop=1&emissivity=0.9").params == {"loop": "1", "emissivity": "0.9"}
    cu = parse_camera_url(f"file://{p}?loop=0")
    assert cu.path == p and cu.params == {"loop": "0"}
