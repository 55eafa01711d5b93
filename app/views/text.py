"""User text inside Markdown panes (``pn.pane.Markdown``, ``pn.pane.Alert``).

HTML escaping is not enough there: ``![x](https://elsewhere/p.png)`` has no HTML character and
still renders as an image fetched from another host. :func:`md_escape` backslash-escapes every
Markdown character as well, so names, messages and errors render as the text they are. Every
view puts user text into Markdown through here.
"""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:<>&\"'=$@^])")


def md_escape(text: object) -> str:
    """``text`` as literal text in Markdown: no links, images, HTML or formatting."""
    return _SPECIAL.sub(r"\\\1", str(text))
