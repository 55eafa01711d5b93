"""Every Tornado route mounted beside the Panel app. The OpenAPI document is built from this list."""

from __future__ import annotations

from app.auth import auth_routes
from app.handlers.base import ApiNotFound
from app.handlers.cameras import CameraActionHandler, CameraHandler, CamerasHandler, TemperatureHandler
from app.handlers.detections import (
    CameraDetectionHandler,
    CameraZonesHandler,
    DetectionScreenshotHandler,
    DetectionsHandler,
    EventsHandler,
    EventSnapshotHandler,
)
from app.handlers.display import DisplayHandler
from app.handlers.exports import ExportDownloadHandler, ExportJobHandler, ExportsHandler
from app.handlers.health import HealthHandler
from app.handlers.metrics import MetricsHandler
from app.handlers.openapi import DocsHandler, OpenAPIHandler
from app.handlers.radiometry import RadiometryHandler
from app.handlers.record_mode import RecordingModeHandler
from app.handlers.review import CameraTimelineHandler
from app.handlers.rois import (
    AlarmHandler,
    AlarmsHandler,
    CameraRoisHandler,
    CameraRulesHandler,
    RoiHandler,
    RoiLiveHandler,
    RoiSeriesHandler,
    RuleHandler,
)
from app.handlers.recordings import (
    CameraExportHandler,
    ExportHandler,
    RecordingHandler,
    RecordingsHandler,
    RecordingStartHandler,
    RecordingStopHandler,
    SegmentHandler,
    ThumbnailHandler,
)
from app.handlers.schedules import (
    ScheduleCreateHandler,
    ScheduleDeleteHandler,
    ScheduleHandler,
    SchedulesHandler,
    ScheduleUpdateHandler,
)
from app.handlers.sharing import CameraSharesHandler
from app.handlers.storage import StorageCleanupHandler, StorageHandler, StorageSamplesHandler
from app.handlers.streaming import MJPEGHandler, SnapshotHandler, UpdatesSocket, VideoSocket
from app.handlers.tokens import LogoutApiHandler, RefreshHandler, TokenHandler
from app.handlers.webhooks import (
    WebhookDeliveriesHandler,
    WebhookHandler,
    WebhooksHandler,
    WebhookTestHandler,
)
from thermalstream.runtime import Runtime

CID = r"(?P<cid>[0-9]+)"
RID = r"(?P<rid>[0-9]+)"
WID = r"(?P<wid>[0-9]+)"
XID = r"(?P<xid>x?[0-9a-f]{1,32})"  # export ids are "x" + 16 hex digits (never all digits: not a number id)


def build_routes(runtime: Runtime) -> list[tuple]:
    """(pattern, handler, kwargs) triples for ``pn.serve(extra_patterns=...)``."""
    kw = {"runtime": runtime}
    routes: list[tuple] = [
        (r"/health", HealthHandler, kw),
        (r"/metrics", MetricsHandler, kw),
        (r"/api/cameras", CamerasHandler, kw),
        (rf"/api/cameras/{CID}", CameraHandler, kw),
        (rf"/api/cameras/{CID}/(?P<action>connect|disconnect)", CameraActionHandler, kw),
        (rf"/api/cameras/{CID}/temperature", TemperatureHandler, kw),
        (rf"/api/cameras/{CID}/shares", CameraSharesHandler, kw),
        (rf"/api/cameras/{CID}/radiometry", RadiometryHandler, kw),
        (rf"/api/cameras/{CID}/display", DisplayHandler, kw),
        (rf"/api/cameras/{CID}/mjpeg", MJPEGHandler, kw),
        (rf"/api/cameras/{CID}/snapshot\.jpg", SnapshotHandler, kw),
        (rf"/api/cameras/{CID}/export\.mp4", CameraExportHandler, kw),
        (rf"/api/cameras/{CID}/detection", CameraDetectionHandler, kw),
        (rf"/api/cameras/{CID}/zones", CameraZonesHandler, kw),
        (rf"/api/cameras/{CID}/recording-mode", RecordingModeHandler, kw),
        (rf"/api/cameras/{CID}/timeline", CameraTimelineHandler, kw),
        (rf"/api/cameras/{CID}/rois", CameraRoisHandler, kw),
        (rf"/api/cameras/{CID}/alarm-rules", CameraRulesHandler, kw),
        (r"/api/rois/(?P<roi>[0-9]+)", RoiHandler, kw),
        (r"/api/rois/(?P<roi>[0-9]+)/series", RoiSeriesHandler, kw),
        (r"/api/rois/(?P<roi>[0-9]+)/live", RoiLiveHandler, kw),
        (r"/api/alarm-rules/(?P<rule>[0-9]+)", RuleHandler, kw),
        (r"/api/alarms", AlarmsHandler, kw),
        (r"/api/alarms/(?P<aid>[0-9]+)", AlarmHandler, kw),
        (r"/api/detections", DetectionsHandler, kw),
        (r"/api/detections/(?P<did>[0-9]+)/screenshot\.jpg", DetectionScreenshotHandler, kw),
        (r"/api/events", EventsHandler, kw),
        (r"/api/events/(?P<eid>[0-9]+)/snapshot\.jpg", EventSnapshotHandler, kw),
        (r"/api/recording/start", RecordingStartHandler, kw),
        (r"/api/recording/stop", RecordingStopHandler, kw),
        (r"/api/recordings", RecordingsHandler, kw),
        (rf"/api/recordings/{RID}", RecordingHandler, kw),
        (rf"/api/recordings/{RID}/segments/(?P<index>[0-9]+)", SegmentHandler, kw),
        (rf"/api/recordings/{RID}/export\.mp4", ExportHandler, kw),
        (rf"/api/recordings/{RID}/thumbnail\.jpg", ThumbnailHandler, kw),
        (r"/api/schedules", SchedulesHandler, kw),
        (r"/api/schedules/(?P<sid>[0-9]+)", ScheduleHandler, kw),
        (r"/api/schedule/create", ScheduleCreateHandler, kw),
        (r"/api/schedule/update", ScheduleUpdateHandler, kw),
        (r"/api/schedule/delete", ScheduleDeleteHandler, kw),
        (r"/api/exports", ExportsHandler, kw),
        (rf"/api/exports/{XID}", ExportJobHandler, kw),
        (rf"/api/exports/{XID}/download", ExportDownloadHandler, kw),
        (r"/api/storage", StorageHandler, kw),
        (r"/api/storage/samples", StorageSamplesHandler, kw),
        (r"/api/storage/cleanup", StorageCleanupHandler, kw),
        (r"/api/webhooks", WebhooksHandler, kw),
        (rf"/api/webhooks/{WID}", WebhookHandler, kw),
        (rf"/api/webhooks/{WID}/deliveries", WebhookDeliveriesHandler, kw),
        (rf"/api/webhooks/{WID}/test", WebhookTestHandler, kw),
        (rf"/ws/video/{CID}", VideoSocket, kw),
        (r"/ws/updates", UpdatesSocket, kw),
        (r"/api/docs", DocsHandler),
        (r"/api/auth/token", TokenHandler, kw),
        (r"/api/auth/refresh", RefreshHandler, kw),
        (r"/api/auth/logout", LogoutApiHandler, kw),
        *auth_routes(runtime),
    ]
    routes.append((r"/api/openapi\.json", OpenAPIHandler, {**kw, "routes": routes}))
    routes.append((r"/api/.*", ApiNotFound))  # last: unknown API paths answer JSON 404
    return [with_route(r) for r in routes]


def with_route(route: tuple) -> tuple:
    """Tell a guarded handler its own pattern, so it can look itself up in ``app.access``."""
    pattern, handler, *rest = route
    if rest and "runtime" in rest[0]:
        return (pattern, handler, {**rest[0], "route": pattern})
    return route
