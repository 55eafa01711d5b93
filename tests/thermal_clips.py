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

import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from tests.samples import CACHE, sha256

PIPELINE_VERSION = "0.0.70"
CLIPS = {
    "hedgehog.cptv": "fb14d274436a952a90628e3b79a9d21338cd81d0c3d8d1b019c2468914647ae0",
    "possum.cptv": "ac4f93ffc4a8716772887436366347067cbbb2d589b77d8055185b4759198820",
}
CLIP_FPS = 9.0  # Lepton 3 frame rate; both files say so in their header


def _complete(dest: Path) -> bool:
    return all((dest / n).is_file() and sha256(dest / n) == d for n, d in CLIPS.items())


def _download_sdist(tmp: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
           "--disable-pip-version-check", "-q", f"classifier-pipeline=={PIPELINE_VERSION}", "-d", str(tmp)]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    sdists = list(tmp.glob("classifier_pipeline-*.tar.gz")) + list(tmp.glob("classifier-pipeline-*.tar.gz"))
    if res.returncode != 0 or not sdists:
        raise RuntimeError(f"could not download classifier-pipeline=={PIPELINE_VERSION} sdist:\n{res.stderr[-2000:]}")
    return sdists[0]


def _extract(sdist: Path, dest: Path) -> None:
    prefix = sdist.name.removesuffix(".tar.gz")
    with tarfile.open(sdist) as tf:
        for name, digest in CLIPS.items():
            member = tf.extractfile(f"{prefix}/tests/clips/{name}")
            if member is None:
                raise RuntimeError(f"{name} missing from {sdist.name}")
            data = member.read()
            if hashlib.sha256(data).hexdigest() != digest:
                raise RuntimeError(f"{name} from {sdist.name}: SHA-256 mismatch")
            tmp = dest / f".{name}.{os.getpid()}.part"
            tmp.write_bytes(data)
            os.replace(tmp, dest / name)  # atomic: parallel test runs never see half a file


def thermal_clips() -> dict[str, Path]:
    """Paths of the real CPTV clips (``hedgehog``, ``possum``), fetched once and verified on every call."""
    dest = CACHE / f"classifier-pipeline-{PIPELINE_VERSION}"
    if not _complete(dest):
        dest.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            _extract(_download_sdist(Path(tmp)), dest)
    for name, digest in CLIPS.items():
        if sha256(dest / name) != digest:
            raise RuntimeError(f"{dest / name}: SHA-256 mismatch")
    return {name.removesuffix(".cptv"): dest / name for name in CLIPS}


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
