"""Serve the Panel app and the Tornado handlers on one server."""

from __future__ import annotations

import logging

import panel as pn

from app.access import ROUTES
from app.auth import ThermalAuthProvider, oauth_options
from app.main import create_pages
from app.routes import build_routes
from thermalstream.config import Settings
from thermalstream.runtime import Runtime

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 8 << 20  # no route takes uploads; JSON handlers refuse more than 1 MiB themselves


class ClosedTabNoise(logging.Filter):
    """A browser tab that closes while Panel is still writing to it is not an error: drop the
    'Task exception was never retrieved ... WebSocketClosedError' traceback and Panel's warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        import tornado.iostream
        import tornado.websocket

        exc = record.exc_info[1] if record.exc_info else None
        if exc is None and isinstance(getattr(record, "exception", None), BaseException):
            exc = record.exception
        closed = (tornado.websocket.WebSocketClosedError, tornado.iostream.StreamClosedError)
        if isinstance(exc, closed) and "never retrieved" in record.getMessage():
            return False
        return "connection was closed" not in record.getMessage()


def quiet_closed_tabs() -> None:
    """Install :class:`ClosedTabNoise` once on the loggers that report closed tabs."""
    for name in ("asyncio", "panel.io.document", "bokeh.server.views.ws"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, ClosedTabNoise) for f in logger.filters):
            logger.addFilter(ClosedTabNoise())


def allowed_origins(settings: Settings, port: int) -> list[str]:
    hosts = {settings.host, "localhost", "127.0.0.1"} if settings.host in ("127.0.0.1", "localhost") else {settings.host}
    return [f"{h}:{port}" for h in sorted(hosts)]


def mqtt_command_roles() -> dict[str, str]:
    """The least role of each MQTT command: that of the REST route it mirrors, from the access table."""
    return {"detection": ROUTES[r"/api/cameras/(?P<cid>[0-9]+)/detection"]["PATCH"],
            "record": ROUTES[r"/api/recording/start"]["POST"]}


def make_server(runtime: Runtime, *, port: int | None = None, threaded: bool = False, start: bool = True, show: bool = False):
    """Build (and by default start) the server. ``threaded=True`` runs it on its own IOLoop thread
    (tests, notebooks) and returns the thread; stop it with ``.stop()``."""
    settings = runtime.settings
    port = settings.port if port is None else port
    quiet_closed_tabs()
    if runtime.mqtt is not None:
        runtime.mqtt.commands.roles = mqtt_command_roles()  # until now every MQTT command is refused
    return pn.serve(
        create_pages(runtime),
        port=port,
        address=settings.host,
        websocket_origin=allowed_origins(settings, port),
        show=show,
        start=start,
        threaded=threaded,
        title="ThermalStream",
        extra_patterns=build_routes(runtime),
        cookie_secret=settings.secret(),
        http_server_kwargs={"idle_connection_timeout": settings.header_timeout_s,  # also bounds header reads
                            "body_timeout": settings.body_timeout_s, "max_body_size": MAX_BODY_BYTES},
        **(oauth_options(runtime) or {"auth_provider": ThermalAuthProvider(runtime)}),
        verbose=False,
    )


def serve(settings: Settings | None = None, *, show: bool = False) -> None:
    """Run the dashboard until interrupted (``thermalstream serve``)."""
    runtime = Runtime.create(settings or Settings()).start()
    log.info("ThermalStream %s on http://%s:%s", runtime.version, runtime.settings.host, runtime.settings.port)
    print(f"ThermalStream {runtime.version}: http://{runtime.settings.host}:{runtime.settings.port}", flush=True)
    try:
        make_server(runtime, show=show)
    except KeyboardInterrupt:
        pass
    finally:
        runtime.shutdown()
