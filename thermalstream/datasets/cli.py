"""``thermalstream export``: detections, events and radiometric data to files, with a progress bar.

    thermalstream export detections -o det.parquet --camera 1 --since 2026-11-30T00:00Z
    thermalstream export radiometric -o run.nc --recording 12 --step 5
    thermalstream export radiometric -o day.h5 --camera 1 --since … --until …
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub) -> None:
    ex = sub.add_parser("export", help="export detections, events or radiometric data to a file")
    ex.add_argument("kind", choices=["detections", "events", "radiometric"])
    ex.add_argument("-o", "--output", required=True, type=Path,
                    help=".csv/.parquet for tables, .nc (NetCDF) or .h5 (HDF5) for radiometric data")
    ex.add_argument("--camera", type=int, help="camera id")
    ex.add_argument("--recording", type=int, help="recording id (radiometric)")
    ex.add_argument("--since", help="ISO 8601 time (UTC when no zone is given)")
    ex.add_argument("--until", help="ISO 8601 time")
    ex.add_argument("--label", help="class name (tables)")
    ex.add_argument("--step", type=int, default=1, help="every n-th frame (radiometric)")
    ex.add_argument("--data-dir", type=Path, help="the server's THERMALSTREAM_DATA_DIR (default: found as the server does)")
    ex.set_defaults(fn=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    from thermalstream.datasets.export import export_radiometric, export_table
    from thermalstream.datasets.locate import DataNotFound

    try:
        if args.kind == "radiometric":
            path = export_radiometric(_recording(args), args.output, start=args.since, end=args.until,
                                      step=args.step, progress=_bar())
        else:
            path = export_table(_table(args), args.output)
    except (DataNotFound, KeyError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc.args[0] if isinstance(exc, KeyError) else exc}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def _table(args):
    import thermalstream as ts

    fn = ts.detections if args.kind == "detections" else ts.events
    kw = {"limit": None} if args.kind == "detections" else {}
    return fn(camera=args.camera, label=args.label, since=args.since, until=args.until, data_dir=args.data_dir, **kw)


def _recording(args):
    import thermalstream as ts
    from thermalstream.datasets.recording import RecordingData

    if args.recording is not None:
        return ts.open_recording(args.recording, data_dir=args.data_dir)
    if args.camera is None or not (args.since and args.until):
        raise ValueError("give --recording ID, or --camera ID with --since and --until")
    from thermalstream.datasets.locate import locate

    settings = locate(args.data_dir)
    rows = ts.recordings(camera=args.camera, since=args.since, until=args.until, data_dir=args.data_dir)
    files = sorted((f for p in rows["path"] for f in (settings.recordings_dir / p).glob("*.h5")),
                   key=lambda f: (f.parent.name, f.name))
    if not files:
        raise ValueError(f"camera {args.camera} has no radiometric recordings in that range")
    return RecordingData(files, {"camera_id": args.camera})


def _bar():
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="frame", desc="export", file=sys.stderr)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update
