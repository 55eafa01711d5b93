"""Notebooks in a real JupyterLab 4.6, driven in Chromium as a researcher uses them, with no request
leaving 127.0.0.1 (every script and stylesheet is inline):

* the README's two notebook cells (copied verbatim) render a moving live picture with a colour bar;
  hovering it for 10 s shows the value under the pointer with no console error (comm subshells on, the
  default); the view stops when its output is replaced by a re-run or cleared, and the re-run is live;
* every notebook of notebooks/ runs with no error output, its plots draw glyphs, the live view paints
  and the recording player plays and reads values;
* a view whose component the browser cannot load says so in the notebook.

One JupyterLab serves every test of this module (it is slow to start)."""

from __future__ import annotations

import shutil
import time

import nbformat
import pytest

from tests import conftest
from tests.conftest import wait_for
from tests.notebooks import (ROOT, canvas_pixels, chromium_page, code_cells, error_outputs, frames_drawn, hover,
                             jupyter_server, open_notebook, output_text, plots_with_glyphs, readme_cells,
                             run_cells, write_notebook)
from tests.test_notebooks_research import SIM, data_dir  # noqa: F401  (recording + detections fixture)

pytestmark = [pytest.mark.ui, pytest.mark.slow]
NOTEBOOKS = ROOT / "notebooks"
LIVE_CHECK = ('_views = globals().setdefault("_views", [])\n'
              'if not any(v is view for v in _views):\n'
              '    _views.append(view)\n'
              'print("live views:", [v.live for v in _views])')
NOT_LOADABLE = ("import thermalstream as ts\n"
                "from panel.config import panel_extension\n\n"
                "panel_extension._loaded = True  # the kernel thinks the page has the extension; this page never got it\n"
                "cam = ts.open_camera('sim://?width=64&height=48')\n"
                "cam.view()")
PLOTS = {"01-quickstart.ipynb": 2, "02-detection-analysis.ipynb": 3, "03-thermal-export.ipynb": 2,
         "04-remote.ipynb": 1}


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    """A ThermalStream server with one camera and one short recording, for 04-remote."""
    srv = conftest.start_server(tmp_path_factory.mktemp("remote"))
    try:
        cam = srv.request("POST", "/api/cameras", {"url": SIM, "name": "lab"})[1]
        wait_for(lambda: srv.camera(cam["id"])["status"] == "live", what="camera live")
        srv.request("POST", "/api/recording/start", {"camera_id": cam["id"]})
        time.sleep(2)
        srv.request("POST", "/api/recording/stop", {"camera_id": cam["id"]})
        yield srv
    finally:
        conftest.stop_server(srv)


@pytest.fixture(scope="module")
def lab(tmp_path_factory, data_dir, remote):  # noqa: F811
    """JupyterLab on loopback serving the notebooks under test; its URL."""
    root = tmp_path_factory.mktemp("lab")
    write_notebook(root / "readme.ipynb", [*readme_cells(), LIVE_CHECK])
    write_notebook(root / "not-loadable.ipynb", [NOT_LOADABLE])
    for name in PLOTS:
        shutil.copy(NOTEBOOKS / name, root / name)
    env = {"THERMALSTREAM_DATA_DIR": str(data_dir), "THERMALSTREAM_URL": remote.base,
           "THERMALSTREAM_TOKEN": remote.token("admin")}
    with jupyter_server("lab", root, env) as base:
        yield base


@pytest.fixture
def page():
    with chromium_page() as p:
        yield p


def n_code(name: str) -> int:
    return sum(c.cell_type == "code" for c in nbformat.read(NOTEBOOKS / name, as_version=4).cells)


def run_notebook(page, base: str, name: str, cells: int) -> None:
    open_notebook(page, "lab", base, name, reset=True)
    run_cells(page, name, range(cells))
    assert error_outputs(page) == []


@pytest.mark.parametrize("name", ["04-remote.ipynb", "02-detection-analysis.ipynb", "03-thermal-export.ipynb",
                                  "01-quickstart.ipynb"])
def test_notebook_runs_offline_and_draws(lab, page, name):
    run_notebook(page, lab, name, n_code(name))
    wait_for(lambda: plots_with_glyphs(page) >= PLOTS[name], timeout=60, what=f"{PLOTS[name]} plots with glyphs")
    if name == "01-quickstart.ipynb":  # its live cell painted (the last cell stops the camera)
        assert frames_drawn(page.locator(".jp-NotebookPanel:visible .ts-canvas").first) > 0
    if name == "03-thermal-export.ipynb":
        player_plays_and_reads(page)
    assert page.external == [], page.external[:5]  # scripts and stylesheets: all inline
    assert not [e for e in page.console_errors if "bokeh" in e.lower() or "panel" in e.lower()]


def player_plays_and_reads(page) -> None:
    """rec.view(): a first frame with a °C colour bar, Play moves the picture, the pointer reads °C."""
    panel = page.locator(".jp-NotebookPanel:visible")
    canvas, hud = panel.locator(".ts-canvas").first, panel.locator(".ts-hud").first
    wait_for(lambda: frames_drawn(canvas) >= 1, what="the player's first frame")
    wait_for(lambda: "°C" in panel.locator(".ts-bar span").first.inner_text(), what="colour bar in °C")
    assert panel.locator(".ts-notice").count() == 0  # the script ran and removed the notice
    before, pixels = frames_drawn(canvas), canvas_pixels(canvas)
    panel.get_by_role("button", name="▶ Play").click()
    wait_for(lambda: frames_drawn(canvas) >= before + 5, timeout=30, what="frames while playing")
    assert canvas_pixels(canvas) != pixels
    errors = len(page.console_errors)
    assert hover(page, canvas, hud, 4), "the value under the pointer never showed"
    assert page.console_errors[errors:] == []


def test_a_view_the_page_cannot_load_says_so_in_the_notebook(lab, page):
    open_notebook(page, "lab", lab, "not-loadable.ipynb", reset=True)
    run_cells(page, "not-loadable.ipynb", [0])
    notice = page.locator(".jp-NotebookPanel:visible .ts-notice")
    wait_for(notice.is_visible, timeout=30, what="the notice in the cell output")
    assert "did not load" in notice.inner_text() and "ts.notebook()" in notice.inner_text()
    canvases = page.locator(".jp-NotebookPanel:visible .ts-canvas")
    assert canvases.count() == 0 or frames_drawn(canvases.first) == 0  # nothing drawn: the notice is right


def test_readme_snippet_live_view_hover_and_clean_stop(lab, page):
    cells = readme_cells()
    open_notebook(page, "lab", lab, "readme.ipynb", reset=True)
    run_cells(page, "readme.ipynb", range(len(cells) + 1))
    panel = page.locator(".jp-NotebookPanel:visible")
    canvas = panel.locator(".ts-canvas").first
    wait_for(lambda: frames_drawn(canvas) > 0, timeout=60, what="a first frame")
    first, pixels = frames_drawn(canvas), canvas_pixels(canvas)
    time.sleep(2)
    assert frames_drawn(canvas) > first + 5 and canvas_pixels(canvas) != pixels  # moving, not one frozen frame
    wait_for(lambda: "°C" in panel.locator(".ts-bar span").first.inner_text(), what="colour bar in °C")
    assert panel.locator(".ts-notice").count() == 0 and error_outputs(page) == []
    assert "live views: [True]" in output_text(page, len(cells))
    errors = len(page.console_errors)
    assert hover(page, canvas, panel.locator(".ts-hud").first, 10), "the value under the pointer never showed"
    assert page.console_errors[errors:] == [], page.console_errors[errors:]
    assert frames_drawn(canvas) > first + 50  # frames kept flowing while hovering
    assert page.external == [], page.external[:5]

    run_cells(page, "readme.ipynb", range(len(cells) + 1))  # again, on the same kernel: the old view stops
    again = panel.locator(".ts-canvas").first
    wait_for(lambda: frames_drawn(again) > 5, timeout=60, what="frames after a re-run")
    expect_live(page, len(cells), "[False, True]")
    code_cells(page).nth(1).locator(".jp-InputPrompt").click()  # clear the view's output: it stops
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-cell-output')")
    wait_for(lambda: panel.locator(".ts-canvas").count() == 0, what="the output cleared")
    expect_live(page, len(cells), "[False, False]")


def expect_live(page, index: int, states: str) -> None:
    """Run the check cell until it prints ``states`` (the front end tells the kernel asynchronously)."""
    def check() -> bool:
        run_cells(page, "readme.ipynb", [index])
        return f"live views: {states}" in output_text(page, index)

    wait_for(check, timeout=45, interval=1, what=f"live views {states}: {output_text(page, index)!r}")
