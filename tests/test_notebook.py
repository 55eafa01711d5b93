"""The quickstart notebook runs top to bottom on this environment's Python and shows what it promises."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "01-quickstart.ipynb"
KERNEL = "thermalstream-test"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> nbformat.NotebookNode:
    """The notebook executed by a kernel that runs this interpreter (the venv's python)."""
    tmp = tmp_path_factory.mktemp("nb")
    spec = tmp / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "thermalstream test",
                "language": "python",
            }
        )
    )
    mp = pytest.MonkeyPatch()
    mp.setenv("JUPYTER_PATH", str(tmp / "jupyter"))
    mp.setenv("THERMALSTREAM_DATA_DIR", str(tmp / "data"))
    mp.setenv("TMPDIR", str(tmp))  # the notebook's recorded clip goes here
    root = str(NOTEBOOK.parent.parent)  # `import app` works even without the editable install
    mp.setenv("PYTHONPATH", os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p))
    try:
        nb = nbformat.read(NOTEBOOK, as_version=4)
        client = nbclient.NotebookClient(
            nb, timeout=120, kernel_name=KERNEL, resources={"metadata": {"path": str(NOTEBOOK.parent)}}
        )
        client.execute()  # raises CellExecutionError on the first failing cell
    finally:
        mp.undo()
    return nb


def cell(nb, tag: str):
    found = [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(found) == 1, f"no unique cell tagged {tag!r}"
    return found[0]


def text_of(c) -> str:
    parts = []
    for out in c.outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(out.data.get("text/plain", ""))
        elif out.output_type == "error":
            parts.append("\n".join(out.traceback))
    return "\n".join(parts)


def test_notebook_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    assert all(not c.outputs and c.execution_count is None for c in code)


def test_runs_without_errors(executed):
    errors = [
        o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert not errors
    assert all(c.execution_count for c in executed.cells if c.cell_type == "code")


def test_max_temperature_is_a_plausible_celsius_float(executed):
    value = float(text_of(cell(executed, "tmax")).strip())
    assert 0.0 < value < 150.0


def test_stats_and_file_reading(executed):
    stats = text_of(cell(executed, "stats"))
    assert "hottest (x, y)" in stats and "mean °C" in stats
    m = re.search(r"(\d+) frames; max °C per frame", text_of(cell(executed, "file")))
    assert m and int(m.group(1)) == 27
    assert "FLIR Lepton 3.5" in text_of(cell(executed, "file"))
    m = re.search(r"(\d+) frames in 2 s", text_of(cell(executed, "series")))
    assert m and int(m.group(1)) > 0


def test_counts_file_reads_as_counts_not_celsius(executed):
    out = text_of(cell(executed, "counts"))
    assert "unit: counts | celsius: None | max: 3000.0 counts" in out and "uncalibrated" in out
    assert "°C" not in out


def test_holoviews_and_live_cells_render(executed):
    for tag in ("hvplot", "series", "live"):
        rich = [o for o in cell(executed, tag).outputs if o.output_type in ("execute_result", "display_data")]
        assert rich, f"cell {tag!r} displayed nothing"
        mimes = {k for o in rich for k in o.data}
        assert mimes & {"text/html", "application/vnd.holoviews_exec.v0+json"}, (tag, mimes)


def test_camera_is_stopped_at_the_end(executed):
    assert text_of(cell(executed, "stop")).strip() == "False"
