"""The research notebooks (02 detection analysis, 03 thermal export, 04 remote) run top to bottom on
real data: a recording made by the real RecordingService from a simulated camera, detections stored
by the real DetectionStore at the simulator's ground-truth boxes, and (04) a live server."""

from __future__ import annotations

import re
import time

import nbformat
import pytest

from tests.notebooks import ROOT, cell, errors, execute, rich_mimes, text_of
from tests.test_record_service import Stack, _config
from thermalstream.config import Settings
from thermalstream.db import Database
from thermalstream.detect.store import DetectionStore
from thermalstream.detect.types import Box, Detection
from thermalstream.sources.sim import SimSource

pytestmark = pytest.mark.slow
NOTEBOOKS = ROOT / "notebooks"
SIM = "sim://?fps=10&width=160&height=128&seed=11&people=2&animal=1"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A server data folder: one recording of ~5 s and the detections/events of what is in it."""
    tmp = tmp_path_factory.mktemp("research")
    settings = Settings(data_dir=tmp / "data")
    settings.ensure_dirs()
    db = Database.create(settings)
    stack = Stack(db, settings, _config(segment_seconds=10.0))
    try:
        cid = stack.camera(SIM)
        rid = stack.svc.start(cid)["id"]
        time.sleep(5)
        stack.svc.stop(cid)
    finally:
        stack.svc.shutdown()
        stack.manager.stop_all()
    import thermalstream as ts

    rec = ts.open_recording(rid, data_dir=settings.data_dir)
    truth = SimSource(SIM)
    store = DetectionStore(db, settings.screenshots_dir).start()
    events: dict[str, int] = {}
    for frame in rec:
        rows = []
        for k, (label, x1, y1, x2, y2) in enumerate(truth.objects(frame.seq)):
            key = f"{label}{k}"
            if key not in events:
                events[key] = store.create_event(cid, label, frame.timestamp)
            rows.append((frame.timestamp, Detection(label, 0.9, Box(x1, y1, x2, y2),
                                                    max_celsius=float(frame.celsius[y1:y2, x1:x2].max())),
                         events[key], None))
        store.add(cid, rows)
    store.close()
    db.dispose()
    return settings.data_dir


def _run(name: str, tmp_path, env: dict[str, str]):
    nb = execute(NOTEBOOKS / name, tmp_path, env)
    assert not errors(nb), [text_of(c) for c in nb.cells if c.cell_type == "code" and "Error" in text_of(c)]
    return nb


@pytest.mark.parametrize("name", ["02-detection-analysis.ipynb", "03-thermal-export.ipynb", "04-remote.ipynb"])
def test_committed_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert all(not c.outputs and c.execution_count is None for c in nb.cells if c.cell_type == "code")


def test_detection_analysis(data_dir, tmp_path):
    nb = _run("02-detection-analysis.ipynb", tmp_path, {"THERMALSTREAM_DATA_DIR": str(data_dir)})
    m = re.search(r"(\d+) detections in (\d+) events", text_of(cell(nb, "tables")))
    assert m and int(m.group(1)) > 20 and int(m.group(2)) >= 2
    assert "person" in text_of(cell(nb, "per_hour"))
    m = re.search(r"(\d+) crops", text_of(cell(nb, "gallery")))
    assert m and int(m.group(1)) >= 2
    for tag in ("per_hour", "timeline", "gallery"):
        assert rich_mimes(cell(nb, tag)) & {"text/html", "application/vnd.holoviews_exec.v0+json"}, tag


def test_thermal_export(data_dir, tmp_path):
    nb = _run("03-thermal-export.ipynb", tmp_path, {"THERMALSTREAM_DATA_DIR": str(data_dir)})
    assert "RecordingData(" in text_of(cell(nb, "open")) and "°C" in text_of(cell(nb, "open"))
    m = re.search(r"(\d+) frames; mean (-?[\d.]+) °C", text_of(cell(nb, "region")))
    assert m and int(m.group(1)) > 30 and -20 < float(m.group(2)) < 60
    assert "round trip: identical" in text_of(cell(nb, "export"))
    for tag in ("frame", "region"):
        assert rich_mimes(cell(nb, tag)) & {"text/html", "application/vnd.holoviews_exec.v0+json"}, tag
    player = [o for o in cell(nb, "player").outputs if o.output_type == "execute_result"]  # rec.view()
    assert player and "application/vnd.holoviews_exec.v0+json" in player[0].data
    assert "ts-notice" in player[0].data["text/html"]  # a player, with its "did not load" notice


def test_remote(server, tmp_path):
    status, cam = server.request("POST", "/api/cameras", {"url": SIM, "name": "lab"})
    assert status == 201
    from tests.conftest import wait_for

    wait_for(lambda: server.camera(cam["id"])["status"] == "live", what="camera live")
    server.request("POST", "/api/recording/start", {"camera_id": cam["id"]})
    time.sleep(2)
    server.request("POST", "/api/recording/stop", {"camera_id": cam["id"]})
    nb = _run("04-remote.ipynb", tmp_path, {"THERMALSTREAM_URL": server.base,
                                            "THERMALSTREAM_TOKEN": server.token("admin")})
    assert re.search(r"1 camera\(s\), 1 recording\(s\)", text_of(cell(nb, "tables")))
    assert "degree_Celsius" in text_of(cell(nb, "recording"))
    assert rich_mimes(cell(nb, "recording")) & {"text/html", "application/vnd.holoviews_exec.v0+json"}
