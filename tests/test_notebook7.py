"""The README's notebook cells (verbatim) in classic Notebook 7, driven in Chromium with no request
leaving 127.0.0.1: a moving live picture with a °C colour bar, the value under the pointer while
hovering with no console error, and no error output. The same helpers as the JupyterLab test."""

from __future__ import annotations

import time

import pytest

from tests.conftest import wait_for
from tests.notebooks import (canvas_pixels, chromium_page, error_outputs, frames_drawn, hover, jupyter_server,
                             open_notebook, readme_cells, run_cells, write_notebook)

pytestmark = [pytest.mark.ui, pytest.mark.slow]


def test_readme_snippet_moves_in_notebook_7(tmp_path):
    cells = readme_cells()
    write_notebook(tmp_path / "readme.ipynb", cells)
    with jupyter_server("notebook", tmp_path, {"THERMALSTREAM_DATA_DIR": str(tmp_path / "data")}) as base, \
            chromium_page() as page:
        open_notebook(page, "notebook", base, "readme.ipynb")
        assert page.locator("#jp-top-panel, .jp-NotebookPanel").count() and "/notebooks/" in page.url
        run_cells(page, "readme.ipynb", range(len(cells)))
        canvas = page.locator(".jp-NotebookPanel:visible .ts-canvas").first
        wait_for(lambda: frames_drawn(canvas) > 0, timeout=60, what="a first frame")
        first, pixels = frames_drawn(canvas), canvas_pixels(canvas)
        time.sleep(2)
        assert frames_drawn(canvas) > first + 5 and canvas_pixels(canvas) != pixels
        wait_for(lambda: "°C" in page.locator(".ts-bar span").first.inner_text(), what="colour bar in °C")
        assert page.locator(".ts-notice").count() == 0 and error_outputs(page) == []
        errors = len(page.console_errors)
        assert hover(page, canvas, page.locator(".ts-hud").first, 5), "the value under the pointer never showed"
        assert page.console_errors[errors:] == [], page.console_errors[errors:]
        assert page.external == [], page.external[:5]
