"""The ``thermalstream`` command line."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys

from thermalstream.config import Settings


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {k: v for k, v in {"host": getattr(args, "host", None), "port": getattr(args, "port", None)}.items() if v}
    return Settings(**overrides)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def cmd_serve(args: argparse.Namespace) -> int:
    from app.server import serve

    signal.signal(signal.SIGTERM, _interrupt)  # stop cleanly under service managers too
    serve(_settings(args), show=args.show)
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from thermalstream.db import current_revision, upgrade

    settings = _settings(args)
    settings.ensure_dirs()
    if args.action == "upgrade":
        upgrade(settings.db_url)
    print(f"database {settings.db_url.split('@')[-1]} at revision {current_revision(settings.db_url)}")
    return 0


def cmd_cameras(args: argparse.Namespace) -> int:
    from thermalstream.db import Database, repo
    from thermalstream.sources.url import CameraURLError, parse_camera_url

    settings = _settings(args)
    settings.ensure_dirs()
    db = Database.create(settings)
    try:
        with db.session() as s:
            if args.action == "add":
                try:
                    cu = parse_camera_url(args.url)
                except CameraURLError as exc:
                    print(f"error: {exc}", file=sys.stderr)
                    return 2
                cam = repo.add_camera(s, args.name or cu.masked[:128], cu.raw, kind=cu.kind)
                print(f"added camera {cam.id}: {cam.name} ({cu.masked}); the server connects it on start")
                return 0
            rows = [repo.public_dict(c) for c in repo.list_cameras(s)]
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            for r in rows:
                print(f"{r['id']:>4}  {r['status']:<12} {r['name']:<30} {r['url']}")
            if not rows:
                print("no cameras")
        return 0
    finally:
        db.dispose()


def cmd_simulate(args: argparse.Namespace) -> int:
    from thermalstream.simulate import run_simulator

    run_simulator(args.kind, args.url, args.host, args.port)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from thermalstream.detect.cli import ModelsError, models_export

    settings = _settings(args)
    settings.ensure_dirs()
    h, w = args.frame_shape
    try:
        paths = models_export(settings, tuple(args.backend), args.imgsz, frame_shape=(h, w), force=args.force)
    except ModelsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for p in paths:
        print(f"exported {p}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="thermalstream", description="Thermal camera monitoring, detection and recording.")
    p.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING (default from THERMALSTREAM_LOG_LEVEL)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="start the dashboard and API server")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--show", action="store_true", help="open a browser")
    s.set_defaults(fn=cmd_serve)

    d = sub.add_parser("db", help="database migrations")
    d.add_argument("action", choices=["upgrade", "current"])
    d.set_defaults(fn=cmd_db)

    c = sub.add_parser("cameras", help="list or add saved cameras")
    csub = c.add_subparsers(dest="action", required=True)
    cl = csub.add_parser("list")
    cl.add_argument("--json", action="store_true")
    ca = csub.add_parser("add")
    ca.add_argument("url")
    ca.add_argument("--name", default="")
    c.set_defaults(fn=cmd_cameras)

    from thermalstream.auth.cli import register as register_users

    register_users(sub, settings_factory=_settings)

    from thermalstream.datasets.cli import register as register_export

    register_export(sub)

    md = sub.add_parser("models", help="prepare detection models (OpenVINO/ONNX exports at the frame shape)")
    msub = md.add_subparsers(dest="action", required=True)
    mx = msub.add_parser("export", help="export THERMALSTREAM_MODEL for fast CPU inference")
    mx.add_argument("--backend", action="append", choices=["openvino", "onnx"], default=None,
                    help="repeat for several (default: both)")
    mx.add_argument("--imgsz", type=int, default=320, help="longest side of the model input")
    mx.add_argument("--frame-shape", type=int, nargs=2, default=(512, 640), metavar=("H", "W"))
    mx.add_argument("--force", action="store_true", help="export again even if the cache is current")
    md.set_defaults(fn=cmd_models)

    m = sub.add_parser("simulate", help="serve a simulated thermal camera over RTSP or MJPEG on loopback")
    m.add_argument("--kind", choices=["rtsp", "mjpeg"], default="mjpeg")
    m.add_argument("--url", default="sim://?people=3", help="source to serve (any camera URL)")
    m.add_argument("--host", default="127.0.0.1")
    m.add_argument("--port", type=int, default=None, help="default 8554 for RTSP, 8080 for MJPEG")
    m.set_defaults(fn=cmd_simulate)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "command", None) == "models" and args.backend is None:
        args.backend = ["openvino", "onnx"]
    level = args.log_level or Settings().log_level
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
