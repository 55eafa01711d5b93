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
        view.get_root()  # shown: frames are pushed from now on
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


def _display(viewable) -> str:
    """Render ``viewable`` as a notebook output (the extension counted as loaded); its root id."""
    from panel.config import panel_extension

    loaded, panel_extension._loaded = panel_extension._loaded, True
    try:
        data, meta = viewable._repr_mimebundle_()
    finally:
        panel_extension._loaded = loaded
    return meta["application/vnd.holoviews_exec.v0+json"]["id"], data["text/html"]


def _delete(root_id: str) -> None:
    """What the front end sends when a cell's output is cleared or replaced (a re-run)."""
    from panel.config import panel_extension

    panel_extension._process_comm_msg({"event_type": "delete", "id": root_id})


def test_view_pushes_only_while_shown_and_carries_a_notice():
    import thermalstream as ts

    cam = ts.open_camera("sim://?width=64&height=48&seed=4")
    try:
        view = cam.view()
        assert not view.live  # nothing pushed before it is shown
        root, html = _display(view)
        assert view.live and view.notice and f"id='{view.notice}'" in html and "ts.notebook()" in html
        _delete(root)  # output cleared
        assert not view.live
        root2, _ = _display(view)  # shown again (a re-run that shows the same view)
        assert view.live
        _display(view)  # a second output of the same view
        _delete(root2)
        assert view.live  # one output still shows it
        view._handle_msg({"gone": True})  # the pane's script says the page removed that last view
        assert not view.live
    finally:
        view.stop()
        cam.stop()


def _recording(tmp_path):
    from tests.test_research_data import _write_segments
    from thermalstream.sources.sim import SimSource

    frames = _write_segments(tmp_path / "rec", SimSource("sim://?width=64&height=48&seed=8&people=2"), [6, 5])
    return tmp_path / "rec", frames


def test_recording_view_imports_panel_only_when_asked(tmp_path):
    folder, _ = _recording(tmp_path)
    code = f"""
import sys
import thermalstream as ts
rec = ts.open_recording({str(folder)!r})
assert "panel" not in sys.modules
player = rec.view()
assert "panel" in sys.modules and type(player).__module__ == "thermalstream.views.recording_player"
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd="/",
                         check=False)
    assert out.returncode == 0, out.stderr


def test_recording_player_frames_values_palette_and_stop(tmp_path):
    import thermalstream as ts
    from thermalstream.display import DisplaySettings, DisplayState
    from thermalstream.live.encoder import encode_jpeg

    folder, frames = _recording(tmp_path)
    rec = ts.open_recording(folder)
    player = rec.view(palette="ironbow")
    sent = []
    player.view._send_msg = sent.append
    assert player.slider.end == len(frames) - 1 == 10  # one slider across both segments
    player.slider.value = 7  # a frame of the second segment
    assert "frame 8 of 11" in player.when.object
    state = DisplayState()  # the same picture display.py gives for that span and palette
    expected = encode_jpeg(state.render(rec[7], player.settings, "ironbow"))
    assert sent[-1][8:] == expected
    bar = player.view.scale
    assert bar["unit"] == "°C" and bar["lo"] < bar["hi"] and len(bar["colours"]) == 32
    player.view._handle_msg({"x": 10, "y": 20})
    value = float(frames[7].celsius[20, 10])
    assert player.view.readout.endswith("°C @ 10,20") and abs(float(player.view.readout.split()[0]) - value) < 0.06
    player.palette.value = "white-hot"
    assert sent[-1][8:] != expected and sent[-1][8:] == encode_jpeg(state.render(rec[7], player.settings, "white-hot"))
    assert isinstance(player.settings, DisplaySettings) and player.settings.span == "fixed"
    root, html = _display(player)
    assert player.live and player.view.notice in html
    player.play.value = True
    player._step()
    assert player.slider.value == 8
    _delete(root)  # output cleared: no timer left, playing stops
    assert not player.live and not player.play.value


def test_recording_player_refuses_an_unknown_palette(tmp_path):
    import thermalstream as ts

    folder, _ = _recording(tmp_path)
    with pytest.raises(ValueError, match="unknown palette 'rainbowz'"):
        ts.open_recording(folder).view(palette="rainbowz")


def test_a_view_whose_page_went_silent_stops_and_its_heartbeat_restarts_it(monkeypatch):
    import thermalstream as ts
    from thermalstream.views import camera_view

    cam = ts.open_camera("sim://?width=64&height=48&seed=5")
    try:
        view = cam.view()
        _display(view)
        view._handle_msg({"alive": True})
        view._push()
        assert view.live
        monkeypatch.setattr(camera_view, "STALE_S", 0.0)  # no message since: the output is gone
        view._push()
        assert not view.live
        monkeypatch.setattr(camera_view, "STALE_S", 10.0)
        view._handle_msg({"alive": True})  # the tab is back
        assert view.live
        view.stop()
        view._handle_msg({"alive": True})  # stopped by hand: a heartbeat does not restart it
        assert not view.live
    finally:
        view.stop()
        cam.stop()
