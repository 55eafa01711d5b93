"""``ts.notebook()``: everything a view or a HoloViews/hvPlot plot needs, loaded into the notebook itself.

Scripts and stylesheets are embedded in the cell outputs (``inline``), so a notebook on a lab network
with no internet draws the same as one online:

* Panel's and Bokeh's scripts: ``pn.extension(inline=True)`` and ``hv.extension("bokeh", inline=True)``;
  later ``hv.extension`` calls (``import hvplot.pandas`` makes one) stay inline too.
* Stylesheets: Panel names its own (layouts, loading spinner, theme) by their CDN URL. Panel inlines
  them for panes it displays itself, but HoloViews' display hook renders plots without that step, and
  Panel builds them again when a pane is updated (an HTML pane's new text resends its stylesheets). So
  every such stylesheet object is pointed at a ``data:`` URL holding the file Panel ships: in each
  rendered model and Panel's stylesheet caches (a preprocessing hook, on every render) and in the
  properties Panel computes for an update (``Syncable._process_param_change``, wrapped once). Nothing
  is fetched from a CDN.
* Comm messages: JupyterLab 4.4+ delivers them on a subshell thread while cells and timers send from
  the kernel's main thread; Panel sends one update in several pieces, so two threads sending at once
  garble them. Messages of Panel's comms are handed to the main thread's loop (as with subshells off).
"""

from __future__ import annotations

import base64
from functools import lru_cache

_hook_installed = False


def load(inline: bool = True) -> None:
    """Load the JavaScript and CSS of the views and plots into this notebook (see the module doc)."""
    import holoviews as hv
    import panel as pn

    pn.config.inline = inline  # stylesheets of panes Panel displays itself
    if hasattr(hv.extension, "inline"):  # the notebook extension (IPython present)
        hv.extension.inline = inline  # the default for later calls (hvplot's import makes one)
    pn.extension(inline=inline)  # the views (custom components)
    hv.extension("bokeh", inline=inline)  # the plots' renderer, without a second trip to a CDN
    if inline:
        _install_hook()
    _comms_on_main_thread()


def _comms_on_main_thread() -> None:
    """Hand every message of Panel's comms (pyviz_comms) that arrives on another thread to the kernel's
    main loop; only when called on that loop (a notebook cell), once."""
    import asyncio
    import threading

    from pyviz_comms import Comm

    if getattr(Comm._handle_msg, "_on_main", False) or threading.current_thread() is not threading.main_thread():
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    original = Comm._handle_msg

    def handle(self, msg):
        if threading.current_thread() is threading.main_thread() or loop.is_closed():
            return original(self, msg)
        loop.call_soon_threadsafe(original, self, msg)

    handle._on_main = True
    Comm._handle_msg = handle


def _install_hook() -> None:
    global _hook_installed
    if _hook_installed:
        return
    from panel.reactive import Syncable
    from panel.viewable import Viewable

    Viewable._preprocessing_hooks.append(inline_stylesheets)
    original = Syncable._process_param_change

    def process_param_change(self, params):
        properties = original(self, params)
        if "stylesheets" in properties:
            _localise(properties["stylesheets"])
        return properties

    Syncable._process_param_change = process_param_change
    _hook_installed = True


def inline_stylesheets(viewable, root, changed=None, old_models=None) -> None:
    """Point the stylesheets Panel names by CDN URL at ``data:`` URLs, in every model under ``root`` and
    in Panel's stylesheet caches (a Panel preprocessing hook: it runs on each render of a pane)."""
    import panel as pn
    from bokeh.models import UIElement
    from panel.io.state import state

    if not pn.config.inline:
        return
    _localise([s for m in root.select({"type": UIElement}) for s in m.stylesheets])
    _localise([s for cache in list(state._stylesheets.values()) for s in list(cache.values())])


def _localise(sheets) -> None:
    """Point each ImportedStyleSheet among ``sheets`` that names a file Panel ships at its ``data:`` URL
    (while ``pn.config.inline`` is on)."""
    import panel as pn
    from bokeh.models import ImportedStyleSheet

    if not pn.config.inline:
        return
    for sheet in sheets:
        if isinstance(sheet, ImportedStyleSheet):
            local = _data_url(str(sheet.url))
            if local is not None:
                sheet.url = local


@lru_cache(maxsize=64)
def _data_url(url: str) -> str | None:
    """``data:`` URL of a stylesheet Panel ships, named by its CDN URL or its server path; None for any
    other URL."""
    from panel.io.resources import CDN_DIST, DIST_DIR, LOCAL_DIST

    prefix = next((p for p in (CDN_DIST, LOCAL_DIST) if url.startswith(p)), None)
    if prefix is None:
        return None
    path = DIST_DIR / url[len(prefix):].split("?")[0]
    if not path.is_file():
        return None
    return "data:text/css;base64," + base64.b64encode(path.read_bytes()).decode()
