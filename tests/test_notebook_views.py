"""The live pane from the core package: `cam.view()` / `ts.CameraView` without the app, Panel imported
only when a view is asked for, a plain message when the notebook has not loaded the JavaScript, and
pointer readouts answered from the thread that sends the frames (JupyterLab's comm subshells)."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest

from tests.conftest import wait_for
from tests.notebooks import ROOT


def test_core_imports_no_panel_until_a_view_is_asked_for():
    code = """
import sys
import thermalstream as ts
assert "panel" not in sys.modules and "app" not in sys.modules
cam = ts.open_camera("sim://?width=64&height=48")
view = cam.view()
assert type(view) is ts.CameraView and "app" not in sys.modules
data, _ = view._repr_mimebundle_()
print(data["text/plain"])
view.stop(); cam.stop()
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd="/",
                         check=False)  # from / : nothing of the checkout on the path but the installed package
    assert out.returncode == 0, out.stderr
    assert "ts.notebook()" in out.stdout and "offline" in out.stdout


def test_pointer_is_answered_from_the_frame_thread():
    import thermalstream as ts

    cam = ts.open_camera("sim://?width=64&height=48&seed=3")
    try:
        wait_for(lambda: cam.latest() is not None, what="a frame")
        view = cam.view()
        try:
            t = threading.Thread(target=view._handle_msg, args=({"x": 5, "y": 7},))  # a comm subshell
            t.start()
            t.join()
            assert view.readout == ""  # not set from the comm thread ...
            view._push()  # ... but by the thread that sends the frames
            value = float(cam.latest().celsius[7, 5])
            assert view.readout.endswith("°C @ 5,7") and abs(float(view.readout.split()[0]) - value) < 0.2
        finally:
            view.stop()
    finally:
        cam.stop()


@pytest.mark.parametrize("name", ["01-quickstart.ipynb"])
def test_notebooks_use_the_core_view(name):
    text = (ROOT / "notebooks" / name).read_text()
    assert "from app." not in text and "ts.notebook()" in text and np.char.count(text, "cam.view(") >= 1
