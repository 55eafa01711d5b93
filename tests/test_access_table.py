"""Every route and page has an entry in the access table (the Frigate auth-spec idea)."""

from __future__ import annotations

import tornado.web
import tornado.websocket

from app import access
from app.routes import build_routes
from app.views.shell import PAGES as NAV_PAGES

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def implemented(handler) -> set[str]:
    if issubclass(handler, tornado.websocket.WebSocketHandler):
        return {"GET"}
    base = tornado.web.RequestHandler
    return {m for m in METHODS if getattr(handler, m.lower()) is not getattr(base, m.lower())}


def test_every_route_method_has_an_entry(server):
    routes = build_routes(server.runtime)
    for pattern, handler, *_ in routes:
        assert pattern in access.ROUTES, f"route {pattern} has no entry in app/access.py"
        missing = implemented(handler) - set(access.ROUTES[pattern])
        assert not missing, f"{pattern}: methods {sorted(missing)} have no entry"
        for role in access.ROUTES[pattern].values():
            assert role == access.PUBLIC or role in access.ROLES
    stale = set(access.ROUTES) - {p for p, *_ in routes}
    assert not stale, f"access table lists routes that do not exist: {stale}"


def test_every_page_has_an_entry():
    from app.main import create_pages

    class _Runtime:  # pages are only enumerated, never built
        pass

    slugs = set(create_pages(_Runtime()))
    assert slugs == set(access.PAGES)
    assert {href for _, _, href in NAV_PAGES} == set(access.PAGES)


def test_role_order():
    assert access.allows("admin", "operator") and access.allows("operator", "viewer")
    assert not access.allows("viewer", "operator") and not access.allows(None, "viewer")
    assert access.allows(None, access.PUBLIC) and not access.allows("root", "viewer")
