"""Exports through the API on a real server: radiometric NetCDF/HDF5 of a recording and of a camera's
time range, detections/events as CSV/Parquet, progress, a notification with the link, and refusal
for users who may not see the camera."""

from __future__ import annotations

import io
import time
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

import thermalstream as ts
from tests.conftest import wait_for

SIM = "sim://?width=160&height=128&seed={}&fps=10"


@pytest.fixture
def users(server):
    for name, role in [("vera", "viewer"), ("wim", "viewer")]:
        server.runtime.auth.users.create(name, f"{name} has a long password", role)
    return server


def _recording(server, cid: int, seconds: float = 2.5) -> dict:
    server.request("POST", "/api/recording/start", {"camera_id": cid})
    time.sleep(seconds)
    status, rec = server.request("POST", "/api/recording/stop", {"camera_id": cid})
    assert status == 200, rec
    return rec


def _finished(server, job: dict, as_user: str) -> dict:
    return wait_for(lambda: (j := server.request("GET", f"/api/exports/{job['id']}", as_user=as_user)[1])
                    ["status"] in ("done", "failed") and j, timeout=60, what="export to finish")


def _private_camera(server) -> int:
    status, cam = server.request("POST", "/api/cameras", {"url": SIM.format(3), "name": "bearing rig"})
    assert status == 201, cam
    cid = cam["id"]
    wait_for(lambda: server.camera(cid)["status"] == "live", what="camera live")
    server.runtime.cameras.share(cid, user_id=server.runtime.auth.users.get("vera")["id"])
    return cid


def test_radiometric_netcdf_of_a_recording_for_its_viewer_only(users, tmp_path):
    server = users
    cid = _private_camera(server)
    rec = _recording(server, cid)
    body = {"kind": "radiometric", "format": "netcdf", "recording_id": rec["id"]}
    status, job = server.request("POST", "/api/exports", body, as_user="vera")
    assert status == 202 and job["status"] in ("queued", "running", "done"), job
    assert server.request("POST", "/api/exports", body, as_user="wim")[0] == 404
    done = _finished(server, job, "vera")
    assert done["status"] == "done" and done["progress"] == 1.0 and done["filename"].endswith(".nc"), done
    for path in (f"/api/exports/{job['id']}", done["download_url"]):
        assert server.request("GET", path, as_user="wim")[0] == 404, path
    status, data = server.request("GET", done["download_url"], as_user="vera")
    assert status == 200 and isinstance(data, bytes) and data[:4] == b"\x89HDF"
    out = tmp_path / "x.nc"
    out.write_bytes(data)
    import xarray as xr

    with xr.open_dataset(out) as ds:
        da = ds["temperature"]
        assert da.dims == ("time", "y", "x") and da.shape[1:] == (128, 160)
        assert da.attrs["units"] == "degree_Celsius" and da.attrs["camera"] == "bearing rig"
        local = ts.open_recording(server.runtime.settings.recordings_dir / server.runtime.recordings.get(rec["id"])
                                  ["path"])
        assert da.shape[0] == len(local) > 10
        assert np.array_equal(da.values[3], local[3].celsius)
    titles = [n["title"] for n in server.runtime.notifications.list(server.runtime.auth.users.get("vera")["id"])]
    assert "Export ready" in titles


def test_camera_time_range_hdf5_and_bad_requests(users):
    server = users
    cid = _private_camera(server)
    first = _recording(server, cid, 1.5)
    second = _recording(server, cid, 1.5)
    body = {"kind": "radiometric", "format": "hdf5", "camera_id": cid, "since": first["started_at"],
            "until": second["ended_at"], "step": 2}
    status, job = server.request("POST", "/api/exports", body, as_user="vera")
    assert status == 202, job
    done = _finished(server, job, "vera")
    assert done["status"] == "done", done
    import h5py

    status, data = server.request("GET", done["download_url"], as_user="vera")
    with h5py.File(io.BytesIO(data), "r") as f:
        n = f["temperature"].shape[0]
        stamps = f["timestamp"][:]
    assert n >= 10 and np.all(np.diff(stamps) > 0)  # frames of both recordings, in order
    for bad, word in [({"kind": "radiometric", "format": "csv", "recording_id": 1}, "netcdf or hdf5"),
                      ({"kind": "radiometric", "format": "netcdf"}, "recording_id"),
                      ({"kind": "detections", "format": "csv", "min_confidence": 2}, "min_confidence"),
                      ({"kind": "detections", "format": "csv", "extra": 1}, "extra")]:
        status, err = server.request("POST", "/api/exports", bad, as_user="vera")
        assert status == 400 and word in err["error"], (bad, err)


def test_detections_and_events_tables(users):
    server = users
    cid = _private_camera(server)
    rt = server.runtime
    from thermalstream.detect.types import Box, Detection

    now = time.time()
    eid = rt.detection.store.create_event(cid, "person", now)
    rt.detection.store.add(cid, [(now + i, Detection("person", 0.9, Box(1, 2, 30, 40)),
                                  eid, None) for i in range(5)])
    rt.detection.store.flush()
    for fmt in ("csv", "parquet"):
        job = server.request("POST", "/api/exports", {"kind": "detections", "format": fmt}, as_user="vera")[1]
        done = _finished(server, job, "vera")
        status, data = server.request("GET", done["download_url"], as_user="vera")
        df = pd.read_csv(io.BytesIO(data)) if fmt == "csv" else pd.read_parquet(io.BytesIO(data))
        assert len(df) == 5 and set(df["camera_id"]) == {cid} and set(df["label"]) == {"person"}
    status, job = server.request("POST", "/api/exports", {"kind": "detections", "format": "csv"}, as_user="wim")
    done = _finished(server, job, "wim")
    df = pd.read_csv(io.BytesIO(server.request("GET", done["download_url"], as_user="wim")[1]))
    assert len(df) == 0  # wim sees no camera: nothing of vera's camera leaks into his export
    status, job = server.request("POST", "/api/exports", {"kind": "events", "format": "csv"}, as_user="vera")
    df = pd.read_csv(io.BytesIO(server.request("GET", _finished(server, job, "vera")["download_url"],
                                               as_user="vera")[1]))
    assert df["id"].tolist() == [eid]


def test_remote_client_reads_the_lab_server(users, tmp_path):
    """ts.connect against a live server: the same DataFrames as local calls, only what the account
    sees, the recording as an xarray array, token refresh after the access token is refused."""
    server = users
    cid = _private_camera(server)
    rec = _recording(server, cid, 1.5)
    rt = server.runtime
    from thermalstream.detect.types import Box, Detection

    now = time.time()
    eid = rt.detection.store.create_event(cid, "person", now)
    rt.detection.store.add(cid, [(now + i, Detection("person", 0.8, Box(3, 4, 20, 30)), eid, None) for i in range(3)])
    rt.detection.store.flush()
    vera = ts.connect(server.base, username="vera", password="vera has a long password")
    det = vera.detections()
    assert len(det) == 3 and det["timestamp"].is_monotonic_increasing and str(det["timestamp"].dt.tz) == "UTC"
    assert {"x1", "y1", "x2", "y2", "label", "camera_id"} <= set(det.columns)
    assert vera.events()["id"].tolist() == [eid]
    assert vera.recordings()["id"].tolist() == [rec["id"]]
    da = vera.open_recording(rec["id"], path=tmp_path / "r.nc")
    assert da.dims == ("time", "y", "x") and da.sizes["time"] > 5 and da.attrs["units"] == "degree_Celsius"
    wim = ts.connect(server.base, token=server.token("wim"))
    assert len(wim.detections()) == 0 and len(wim.recordings()) == 0
    from thermalstream.datasets.remote import RemoteError

    with pytest.raises(RemoteError, match="404"):
        wim.open_recording(rec["id"], path=tmp_path / "w.nc")
    vera._access = "not-a-token"  # an expired/refused access token: the client refreshes by itself
    assert len(vera.detections()) == 3
    with pytest.raises(RemoteError, match="401"):
        ts.connect(server.base, username="vera", password="wrong password")


def _decode(data: bytes, tmp_path, name: str) -> list:
    import av

    path = tmp_path / name
    path.write_bytes(data)
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])]


def test_mp4_with_palette_and_detections_burnt_in(users, tmp_path):
    server = users
    cid = _private_camera(server)
    rec = _recording(server, cid, 2.0)
    row = server.runtime.recordings.get(rec["id"])
    from thermalstream.detect.draw import label_colour
    from thermalstream.detect.types import Box, Detection

    start = datetime.fromisoformat(row["started_at"]).timestamp()
    store = server.runtime.detection.store
    store.add(cid, [(start + 0.5 + 0.1 * i, Detection("person", 0.9, Box(20, 20, 120, 100)), None, None)
                    for i in range(10)])
    store.flush()
    base = f"/api/recordings/{rec['id']}/export.mp4"
    plain = _decode(server.request("GET", base, as_user="vera")[1], tmp_path, "plain.mp4")
    burnt = _decode(server.request("GET", base + "?palette=ironbow&detections=1", as_user="vera")[1], tmp_path,
                    "burnt.mp4")
    assert abs(len(burnt) - len(plain)) <= 1 and len(burnt) > 10

    def chroma(img):  # white-hot video is grey: R, G and B agree
        return float(np.abs(img[..., 0].astype(int) - img[..., 2].astype(int)).mean())

    assert chroma(plain[0]) < 3 < chroma(burnt[0])  # the palette is in the picture
    r, g, b = label_colour("person")[::-1]  # BGR -> RGB
    edge = [img[20:100, 20:22].reshape(-1, 3).astype(int) for img in burnt]
    hits = [i for i, px in enumerate(edge) if (np.abs(px - [r, g, b]).sum(axis=1) < 90).mean() > 0.5]
    assert hits, "no frame shows the detection box in the label colour"
    assert server.request("GET", base + "?palette=nope", as_user="vera")[0] == 400
    assert server.request("GET", base + "?detections=1", as_user="wim")[0] == 404
