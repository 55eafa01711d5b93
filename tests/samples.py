"""Real thermal sample files, fetched at test time into a git-ignored cache and checked by SHA-256.

flirpy's source package ships FLIR test data (test/test_data/). We download the sdist with
pip (``pip download --no-deps --no-binary :all: flirpy==0.6.2``), extract only those files
and verify each one. A failed download is an error, not a skip: the registry is reachable
wherever the tests run.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

CACHE = Path(__file__).resolve().parents[1] / "data" / "cache" / "samples"
FLIRPY_VERSION = "0.6.2"
FLIRPY_SAMPLES = {
    "test.seq": "8b191b29ab738962bdded5e23277fbcd1adea61d85d203eefa4fe42e978cb9ec",
    "frame_000000.fff": "31d7c41c0c3a9fb56e82ae14dac35a0ad099fa001fb324417468433dbef32722",
    "frame_000000.txt": "b027d0c828b4b5f3a251971b36120d8253ed68c556a06382f71ee5f3ff64c866",
    "frame_000000_le.fff": "cef187364772bd7bb0a563505b44fc99dba791dfcc9971a370813497d0b88306",
    # ExifTool's own FLIR test files, bundled in the same sdist: a real FLIR i7 radiometric JPEG
    # (its thermal image shrunk to an 8x8 placeholder by ExifTool) and ExifTool's dump of it.
    "FLIR.jpg": "3e217e288a21ac765cfe0e4f072e98efc84310bc574464a64a41e6a6ae1a90b9",
    "FLIR_2.out": "394cfda9697fbde17de520507e5e50f2e971808924c09c7e5c0a0ac1181fb962",
}
MEMBERS = {"FLIR.jpg": "src/flirpy/bin/t/images/FLIR.jpg", "FLIR_2.out": "src/flirpy/bin/t/FLIR_2.out"}


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _download_sdist(package: str, version: str, tmp: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
           "--disable-pip-version-check", "-q", f"{package}=={version}", "-d", str(tmp)]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    sdists = [p for p in tmp.glob("*.tar.gz") if p.name.replace("_", "-").startswith(f"{package}-")]
    if res.returncode != 0 or not sdists:
        raise RuntimeError(f"could not download {package}=={version} sdist:\n{res.stderr[-2000:]}")
    return sdists[0]


def _extract(sdist: Path, dest: Path, files: dict[str, tuple[str, str]]) -> None:
    prefix = sdist.name.removesuffix(".tar.gz")
    with tarfile.open(sdist) as tf:
        for name, (member_path, digest) in files.items():
            member = tf.extractfile(f"{prefix}/{member_path}")
            if member is None:
                raise RuntimeError(f"{name} missing from {sdist.name}")
            data = member.read()
            if hashlib.sha256(data).hexdigest() != digest:
                raise RuntimeError(f"{name} from {sdist.name}: SHA-256 mismatch")
            tmp = dest / f".{name}.{os.getpid()}.part"
            tmp.write_bytes(data)
            os.replace(tmp, dest / name)  # atomic: parallel test runs never see half a file


def sdist_files(package: str, version: str, files: dict[str, tuple[str, str]]) -> dict[str, Path]:
    """Files of a package's source distribution, ``{name: (path inside the sdist, SHA-256)}``, fetched
    once into the cache (``pip download --no-binary :all:``) and verified on every call."""
    dest = CACHE / f"{package}-{version}"
    if not all((dest / n).is_file() and sha256(dest / n) == d for n, (_, d) in files.items()):
        dest.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            _extract(_download_sdist(package, version, Path(tmp)), dest, files)
    for name, (_, digest) in files.items():
        if sha256(dest / name) != digest:
            raise RuntimeError(f"{dest / name}: SHA-256 mismatch")
    return {name: dest / name for name in files}


def flirpy_samples() -> dict[str, Path]:
    """Paths of flirpy's FLIR sample files, fetched once and verified on every call."""
    files = {n: (MEMBERS.get(n, f"test/test_data/{n}"), d) for n, d in FLIRPY_SAMPLES.items()}
    return sdist_files("flirpy", FLIRPY_VERSION, files)


def exiftool_dump(path: Path) -> dict[str, str]:
    """``Key : value`` lines of an ExifTool text dump."""
    out = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out
