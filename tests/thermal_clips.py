"""Real thermal video clips, fetched at test time into a git-ignored cache and checked by SHA-256.

The Cacophony Project's classifier-pipeline source package ships two short Lepton 3 recordings
(tests/clips/, 160x120 raw counts, 9 fps): a hedgehog (119 frames) and a possum (161 frames).
We download the sdist with pip (``pip download --no-deps --no-binary :all:
classifier-pipeline==0.0.70``, ~3 MB), extract only those files and verify each one. A failed
download is an error, not a skip: the registry is reachable wherever the tests run.

:func:`clip_frames` reads a clip with the product's CPTV source and gives its frames with
timestamps from the file's frame rate (the source stamps frames with the wall clock, which is
meaningless for a file read as fast as possible).

People: thermal-face-alignment 1.0.0's source package (``img/tiv_lm70_478_example.mp4``, ~20 MB
sdist; package licence CC BY-NC-SA 4.0, used here as test data only and never redistributed)
holds a real thermal video of people walking, crossing and standing in a yard (from the BU-TIV
benchmark, per its README): 1050 frames at 30 fps, 8-bit white-hot with the camera's automatic
gain, shown twice side by side with face landmarks drawn on. :func:`people_frames` takes the left
half (512x512) every ``step``-th frame and gives it as an uncalibrated counts source would: the
8-bit levels as ``raw``, ``celsius`` None. It is not radiometric: the levels follow the camera's
gain, which changes during the clip.
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
PEOPLE_PACKAGE, PEOPLE_VERSION = "thermal-face-alignment", "1.0.0"
PEOPLE_FILE = ("img/tiv_lm70_478_example.mp4", "dc621f20618cf56b396d1e66096972c24b221fa9cc88c1bd1c1dff23ef72ee4b")
PEOPLE_FPS = 30.0
PEOPLE_STEP = 3  # every third frame: 10 fps, above the service's default detection rate


def thermal_clips() -> dict[str, Path]:
    """Paths of the real CPTV clips (``hedgehog``, ``possum``), fetched once and verified on every call."""
    files = {name: (f"tests/clips/{name}", digest) for name, digest in CLIPS.items()}
    paths = sdist_files("classifier-pipeline", PIPELINE_VERSION, files)
    return {name.removesuffix(".cptv"): path for name, path in paths.items()}


def clip_frames(path: Path) -> list:
    """Every frame of a CPTV clip through the product's source, timestamped ``index / CLIP_FPS``."""
    from thermalstream.sources import make_source  # keep import-time light
    from thermalstream.sources.base import SourceClosed

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


def people_clip() -> Path:
    """Path of the real thermal video of people, fetched once and verified on every call."""
    return sdist_files(PEOPLE_PACKAGE, PEOPLE_VERSION, {"people.mp4": PEOPLE_FILE})["people.mp4"]


def people_levels(path: Path, step: int = PEOPLE_STEP) -> list:
    """The left half of every ``step``-th frame of the people video, as 8-bit grey levels."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    out, i = [], 0
    try:
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            if i % step == 0:
                out.append(cv2.cvtColor(bgr[:, : bgr.shape[1] // 2], cv2.COLOR_BGR2GRAY))
            i += 1
    finally:
        cap.release()
    if i != 1050:
        raise RuntimeError(f"{path}: {i} frames, expected 1050")
    return out


def people_frames(path: Path, step: int = PEOPLE_STEP) -> list:
    """:func:`people_levels` as frames of an uncalibrated counts source (levels as ``raw``, no °C),
    timestamped from the video's frame rate."""
    from thermalstream.frame import Frame, Radiometry

    rad = Radiometry(calibrated=False, sensor="8-bit white-hot video with automatic gain")
    return [Frame(image=g, seq=k, timestamp=1_700_000_000.0 + k * step / PEOPLE_FPS, raw=g.astype("uint16"),
                  radiometry=rad) for k, g in enumerate(people_levels(path, step))]  # fmt: skip
