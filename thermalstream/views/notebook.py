"""``ts.notebook()``: everything a view or a HoloViews/hvPlot plot needs, loaded into the notebook itself.

Scripts and stylesheets are embedded in the cell outputs (``inline``), so a notebook on a lab network
with no internet draws the same as one online:

* Panel's and Bokeh's scripts: ``pn.extension(inline=True)`` and ``hv.extension("bokeh", inline=True)``;
  later ``hv.extension`` calls (``import hvplot.pandas`` makes one) stay inline too.
* Stylesheets: Panel names its own (layouts, loading spinner, theme) by their CDN URL. Panel inlines
  them for panes it displays itself, but HoloViews' display hook renders plots without that step; a
  preprocessing hook replaces every such URL by the file's text in each rendered model.
"""

from __future__ import annotations

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


def _install_hook() -> None:
    global _hook_installed
    if _hook_installed:
        return
    from panel.viewable import Viewable

    Viewable._preprocessing_hooks.append(inline_stylesheets)
    _hook_installed = True


def inline_stylesheets(viewable, root, changed=None, old_models=None) -> None:
    """Replace the stylesheets Panel names by CDN URL with their text, in every model under ``root``
    (a Panel preprocessing hook: it runs on each render and on each update of a displayed pane)."""
    import panel as pn
    from bokeh.models import UIElement
    from panel.io.notebook import patch_inline_stylesheets

    if not pn.config.inline:
        return
    for model in root.select({"type": UIElement}):
        patch_inline_stylesheets(model)
