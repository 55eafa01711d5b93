"""Real thermal video clips, fetched at test time into a git-ignored cache and checked by SHA-256.

The Cacophony Project's classifier-pipeline source package ships two short Lepton 3 recordings
(tests/clips/, 160x120 raw counts, 9 fps): a hedgehog (119 frames) and a possum (161 frames).
We download the sdist with pip (``pip download --no-deps --no-binary :all:
classifier-pipeline==0.0.70``, ~3 MB), extract only those files and verify each one. A failed
download is an error, not a skip: the registry is reachable wherever the tests run.

:func:`clip_frames` reads a clip with the product's CPTV source and gives its frames with
timestamps from the file's frame rate (the source stamps frames with the wall clock, which is
meaningless for a file read as fast as possible).
"""

from __future__ import annotations

from pathlib import Path

from tests.samples import sdist_files

PIPELINE_VERSION = "0.0.70"
CLIPS = {
    "hedgehog.cptv": "fb14d274436a952a90628e3b79a9d21338cd81d0c3d8d1b019c2468914647ae0",
    "possum.cptv": "ac4f93ffc4a8716772887436366347067cbbb2d589b77d8055185b4759198820",
}
CLIP_FPS = 9.0  # Lepton 3 frame rate; both files say so in their header


def thermal_clips() -> dict[str, Path]:
    """Paths of the real CPTV clips (``hedgehog``, ``possum``), fetched once and verified on every call."""
    files = {name: (f"tests/clips/{name}", digest) for name, digest in CLIPS.items()}
    paths = sdist_files("classifier-pipeline", PIPELINE_VERSION, files)
    return {name.removesuffix(".cptv"): path for name, path in paths.items()}


def clip_frames(path: Path) -> list:
    """Every frame of a CPTV clip through the product's source, timestamped ``index / CLIP_FPS``."""
    from thermalstream.sources import make_source  # noqa: PLC0415 - keep import-time light
    from thermalstream.sources.base import SourceClosed  # noqa: PLC0415

    src = make_source(str(path))
    frames = []
    try:
        src.open()
        while True:
            try:
                f = src.read()
            except SourceClosed:  # end of the file
                break
            f.timestamp = 1_700_000_000.0 + len(frames) / CLIP_FPS
            frames.append(f)
    finally:
        src.close()
    return frames
