"""Run a notebook top to bottom with nbclient on this environment's Python (the venv's), with extra
environment variables, and read its outputs by cell tag."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KERNEL = "thermalstream-test"


def execute(notebook: Path, tmp: Path, env: dict[str, str] | None = None, timeout: int = 180):
    """The executed notebook; raises CellExecutionError on the first failing cell."""
    import nbclient
    import nbformat

    spec = tmp / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "thermalstream test", "language": "python"}))
    mp = pytest.MonkeyPatch()
    mp.setenv("JUPYTER_PATH", str(tmp / "jupyter"))
    mp.setenv("TMPDIR", str(tmp))
    mp.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
    for key, value in (env or {}).items():
        mp.setenv(key, value)
    try:
        nb = nbformat.read(notebook, as_version=4)
        client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name=KERNEL,
                                         resources={"metadata": {"path": str(notebook.parent)}})
        client.execute()
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


def rich_mimes(c) -> set[str]:
    return {k for o in c.outputs if o.output_type in ("execute_result", "display_data") for k in o.data}


def errors(nb) -> list:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]


# --- notebooks in a real Jupyter front end (JupyterLab, Notebook 7), driven in Chromium -------------------
TOKEN = "thermalstream-test"
LOCAL = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:", "about:")
URLS = {"lab": "{base}/lab/tree/{name}?token={token}", "notebook": "{base}/notebooks/{name}?token={token}"}


def readme_cells() -> list[str]:
    """The README's notebook snippet: the two python blocks under "## In a notebook", verbatim."""
    import re

    text = (ROOT / "README.md").read_text()
    section = text.split("## In a notebook", 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert "ts.notebook()" in blocks[0] and "cam.view()" in blocks[1]
    return [blocks[0].strip(), blocks[1].strip()]


def write_notebook(path: Path, cells: list[str]) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


class jupyter_server:  # noqa: N801 - used as a context manager like open()
    """``with jupyter_server("lab" | "notebook", root, env) as base:`` a Jupyter server on loopback
    serving ``root`` with the venv's kernel; its base URL. Its log is ``root/jupyter.log``."""

    def __init__(self, app: str, root: Path, env: dict[str, str] | None = None) -> None:
        self.app, self.root, self.env = app, root, env or {}

    def __enter__(self) -> str:
        import subprocess

        from tests.conftest import free_port, listening, wait_for

        root, port = self.root, free_port()
        env = {**os.environ, "JUPYTER_CONFIG_DIR": str(root / ".config"), "JUPYTER_DATA_DIR": str(root / ".data"),
               "JUPYTER_RUNTIME_DIR": str(root / ".runtime"), "PYTHONPATH": str(ROOT), **self.env}
        extra = (["--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                  "--LabApp.expose_app_in_browser=True"] if self.app == "lab" else [])
        self.log = open(root / "jupyter.log", "w")  # noqa: SIM115 - open while the server runs
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "jupyter"), self.app, "--no-browser", "--allow-root", f"--port={port}",
             "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}", *extra],
            env=env, stdout=self.log, stderr=subprocess.STDOUT)

        def up() -> bool:
            return listening(port) or self.proc.poll() is not None  # died: fail below with its log

        try:
            wait_for(up, timeout=120, what=f"jupyter {self.app} to listen")
            assert self.proc.poll() is None, (root / "jupyter.log").read_text()[-3000:]
        except BaseException:
            self.__exit__()
            raise
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc) -> None:
        import subprocess

        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


class chromium_page:  # noqa: N801
    """``with chromium_page() as page:`` a Chromium page that records console errors
    (``page.console_errors``) and every request to a host other than 127.0.0.1 (``page.external``)."""

    def __enter__(self):
        from playwright.sync_api import sync_playwright

        from tests.test_ui import ARGS, CHROMIUM

        self._pw = sync_playwright().start()
        self._browser = self._pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = self._browser.new_page(viewport={"width": 1280, "height": 1000})
        page.console_errors, page.external = [], []
        page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
        page.on("request", lambda r: None if r.url.startswith(LOCAL) else page.external.append(r.url))
        return page

    def __exit__(self, *exc) -> None:
        self._browser.close()
        self._pw.stop()


def screenshot(page, name: str) -> None:
    page.screenshot(path=str(Path(os.environ.get("TMPDIR", "/tmp")) / f"{name}.png"))


def open_notebook(page, app: str, base: str, name: str, reset: bool = False) -> None:
    """Open a notebook in the front end; ``reset`` (JupyterLab): without the tabs of earlier tests."""
    url = URLS[app].format(base=base, name=name, token=TOKEN) + ("&reset" if reset else "")
    page.goto(url, timeout=120000)
    page.locator(".jp-NotebookPanel:visible .jp-Cell").first.wait_for(timeout=120000)
    try:  # the kernel is ready (run_cells retries a request a starting kernel dropped anyway)
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(timeout=60000)
    except Exception:  # noqa: BLE001 - a front end without that indicator
        pass


def accept_dialogs(page) -> None:
    """Accept a dialog the front end put up (a kernel choice, a kernel that restarted), as a person would
    with its default button; its text goes to ``page.dialogs``."""
    dialog = page.locator(".jp-Dialog")
    while dialog.count() and dialog.first.is_visible():
        page.dialogs = [*getattr(page, "dialogs", []), dialog.first.inner_text()[:200]]
        dialog.first.locator(".jp-mod-accept").first.click()
        page.wait_for_timeout(500)


def code_cells(page):
    return page.locator(".jp-NotebookPanel:visible .jp-CodeCell")


def run_cells(page, name: str, indices) -> None:
    """Run code cells one after the other (Ctrl+Enter on each, as a person would), each until its prompt
    shows a new execution number; a kernel that is still starting drops the first request: retried."""
    import re

    from tests.conftest import wait_for

    indices = list(indices)
    cells = code_cells(page)
    wait_for(lambda: cells.count() > max(indices), what=f"the code cells of {name}")
    for i in indices:
        prompt = cells.nth(i).locator(".jp-InputPrompt")
        before = prompt.inner_text()

        def ran() -> bool:
            text = prompt.inner_text()
            return bool(re.search(r"\[\d+\]", text)) and text != before

        for attempt in range(3):
            accept_dialogs(page)
            try:
                prompt.click(timeout=15000)
                page.keyboard.press("Control+Enter")
                wait_for(ran, timeout=90, interval=0.5, what=f"cell {i} of {name} to run")
                break
            except BaseException:
                if attempt == 2:
                    screenshot(page, f"jupyter-{name}-cell{i}")
                    raise


def error_outputs(page) -> list[str]:
    """Texts of the error outputs in the visible notebook, and of stderr outputs that are more than a
    progress bar (an error, a warning or a traceback)."""
    import re

    found = page.locator(".jp-NotebookPanel:visible .jp-OutputArea-output[data-mime-type="
                        "'application/vnd.jupyter.stderr'], .jp-NotebookPanel:visible "
                        ".jp-RenderedText[data-mime-type='application/vnd.jupyter.error']")
    texts = [(found.nth(i).get_attribute("data-mime-type"), found.nth(i).inner_text()) for i in range(found.count())]
    return [t[:300] for mime, t in texts
            if mime != "application/vnd.jupyter.stderr" or re.search(r"Error|Warning|Traceback|Exception", t)]


def output_text(page, index: int) -> str:
    return code_cells(page).nth(index).locator(".jp-OutputArea").inner_text()


def canvas_pixels(canvas) -> str:
    """What a canvas shows now, as a data URL (two reads differ when the picture moved)."""
    return canvas.evaluate("c => c.toDataURL()")


def frames_drawn(canvas) -> int:
    return int(canvas.get_attribute("data-frames") or 0)


def plots_with_glyphs(page) -> int:
    """How many code cells show a Bokeh plot with glyphs drawn: a plot canvas holding coloured pixels
    (axes, ticks and grid are grey; curves, bars, points and images are coloured)."""
    import cv2
    import numpy as np

    cells, drawn = code_cells(page), 0
    for i in range(cells.count()):
        plots = cells.nth(i).locator(".jp-OutputArea .bk-Canvas")
        for k in range(plots.count()):
            png = plots.nth(k).screenshot()
            hsv = cv2.cvtColor(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2HSV)
            if int(((hsv[..., 1] > 80) & (hsv[..., 2] > 40)).sum()) >= 50:
                drawn += 1
                break
    return drawn


def hover(page, canvas, hud, seconds: float, unit: str = "°C") -> set[str]:
    """Move the pointer over the picture for ``seconds``; the readouts the pane's ``hud`` showed."""
    import time

    box = canvas.bounding_box()
    readouts, end, i = set(), time.monotonic() + seconds, 0
    while time.monotonic() < end:
        i += 1
        page.mouse.move(box["x"] + box["width"] * (0.2 + 0.6 * (i % 7) / 7), box["y"] + box["height"] * 0.6)
        page.wait_for_timeout(120)
        text = hud.inner_text()
        if f"{unit} @" in text:
            readouts.add(text.split(" · ")[0])
    return readouts


class kernel:  # noqa: N801
    """``with kernel(tmp) as (manager, client):`` a started kernel on this environment's Python, with the
    checkout on its path; shut down (now) on exit if the test left it running."""

    def __init__(self, tmp: Path, env: dict[str, str] | None = None) -> None:
        self.tmp, self.env = tmp, env or {}

    def __enter__(self):
        from jupyter_client import KernelManager

        spec = self.tmp / "jupyter" / "kernels" / KERNEL
        spec.mkdir(parents=True, exist_ok=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "thermalstream test", "language": "python"}))
        self.mp = pytest.MonkeyPatch()
        self.mp.setenv("JUPYTER_PATH", str(self.tmp / "jupyter"))
        self.mp.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
        for key, value in self.env.items():
            self.mp.setenv(key, value)
        self.km = KernelManager(kernel_name=KERNEL)
        self.km.start_kernel(cwd=str(self.tmp))
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)
        return self.km, self.kc

    def __exit__(self, *exc) -> None:
        self.kc.stop_channels()
        if self.km.is_alive():
            self.km.shutdown_kernel(now=True)
        self.mp.undo()
