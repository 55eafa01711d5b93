"""A kernel showing live views stops cleanly: a graceful restart and a shutdown end the kernel process by
itself (exit status 0; a kernel that hung would be killed by the client), and on the restarted kernel
the same cells give a live view again. The views are displayed as in a notebook (ts.notebook(), the
README's cells verbatim), without a browser."""

from __future__ import annotations

import time

import pytest

from tests.notebooks import kernel, readme_cells

pytestmark = pytest.mark.slow


def run(kc, code: str) -> str:
    """Execute ``code`` and return what it printed; fails on an error."""
    out: list[str] = []

    def hook(msg) -> None:
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            out.append("\n".join(msg["content"]["traceback"]))

    reply = kc.execute_interactive(code, output_hook=hook, timeout=120)
    assert reply["content"]["status"] == "ok", "".join(out)
    return "".join(out)


def show_and_check_live(kc) -> None:
    for code in readme_cells():
        run(kc, code)
    run(kc, "_sent = view._sent")
    time.sleep(1.5)  # the kernel is idle: its loop pushes frames
    assert run(kc, "print(view.live, view._sent > _sent, cam.running)").split() == ["True", "True", "True"]


def test_kernel_with_a_live_view_restarts_and_shuts_down_cleanly(tmp_path):
    with kernel(tmp_path) as (km, kc):
        km.shutdown_wait_time = 60  # generous: only a hung kernel is killed
        show_and_check_live(kc)
        first = km.provisioner.process
        km.restart_kernel(now=False)
        assert first.poll() == 0  # ended by itself, not killed
        kc.wait_for_ready(timeout=120)
        show_and_check_live(kc)  # the same cells on the restarted kernel: live again
        second = km.provisioner.process
        km.shutdown_kernel(now=False)
        assert second.poll() == 0


def test_notebook_loads_nothing_from_a_cdn(tmp_path):
    """ts.notebook() first: every later output (HoloViews plots shown by its display hook, hvPlot's
    import, which loads the extension again, and a player's updates) names no CDN file."""
    import nbformat

    from tests.notebooks import execute
    from tests.test_research_data import _write_segments
    from thermalstream.sources.sim import SimSource

    _write_segments(tmp_path / "rec", SimSource("sim://?width=64&height=48&seed=8"), [4, 3])
    cells = ["import thermalstream as ts\nts.notebook()",
             "import holoviews as hv, numpy as np\nhv.Image(np.random.rand(8, 8)).opts(colorbar=True)",
             "import pandas as pd, hvplot.pandas\npd.DataFrame({'a': [1, 2], 'b': [3, 4]}).hvplot.bar(x='a', y='b')",
             f"player = ts.open_recording({str(tmp_path / 'rec')!r}).view()\nplayer",
             "player.show(5)  # an update: Panel builds the panes' stylesheets again\n"
             "print(sorted({getattr(s, 'url', 'inline')[:24] for m, _ in player.when._models.values() "
             "for s in m.stylesheets}))"]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    path = tmp_path / "cdn.ipynb"
    nbformat.write(nb, path)
    nb = execute(path, tmp_path, timeout=180)
    text = nbformat.writes(nb)
    assert "cdn.holoviz.org" not in text and "cdn.bokeh.org" not in text
    assert "data:text/css" in nb.cells[-1].outputs[0].text and "http" not in nb.cells[-1].outputs[0].text
