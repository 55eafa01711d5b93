"""The quickstart notebook runs top to bottom on this environment's Python and shows what it promises."""

from __future__ import annotations

import re

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from tests.notebooks import ROOT, cell, execute, text_of  # noqa: E402

NOTEBOOK = ROOT / "notebooks" / "01-quickstart.ipynb"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> nbformat.NotebookNode:
    """The notebook executed by a kernel that runs this interpreter (the venv's python); the
    notebook's recorded clip goes to the temporary folder."""
    tmp = tmp_path_factory.mktemp("nb")
    return execute(NOTEBOOK, tmp, {"THERMALSTREAM_DATA_DIR": str(tmp / "data")}, timeout=120)


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
