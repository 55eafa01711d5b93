"""Pages that load nothing from the internet: labs are often offline. Panel's Fast design (used by
FastListTemplate) asks Google Fonts for Open Sans; this design is the same without that font, and
pages use the system's own sans-serif fonts instead. Everything else Panel serves itself."""

from __future__ import annotations

from panel.theme.fast import Fast as _PanelFast

SYSTEM_FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'


class Fast(_PanelFast):
    """Panel's Fast design minus its web font (named Fast: Panel derives resource paths from the name)."""

    _resources = {kind: res for kind, res in _PanelFast._resources.items() if kind != "font"}


def template_options() -> dict:
    """Keyword arguments for pn.template.FastListTemplate that keep the page offline."""
    return {"design": Fast, "font": SYSTEM_FONT}
