"""The weightless thermal detector with its DEFAULT settings on real footage and on the simulator.

Real footage: two Lepton 3 clips from the Cacophony Project's classifier-pipeline sdist (raw
counts, 160x120, 9 fps; tests/thermal_clips.py fetches and checks them). Ground truth was made once
by an independent method (whole-clip median background, bench/thermal_truth.py) and checked by eye;
it is in tests/data/thermal_truth.json.

People: a real thermal video of people walking, crossing and standing (tests/thermal_clips.py:
8-bit white-hot levels with automatic gain, 512x512, 10 fps, given to the detector as counts).
Its ground truth (tests/data/people_truth.json, bench/thermal_truth.py --people) is also a
whole-clip median background, checked by eye on a montage.

Simulator: the default street scene (640x512, 3 walkers, a car, a dog, warm building and road,
FFC every 30 s) rendered without pacing for 60 s, through the real DetectionService, tracker,
events and database.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from tests.thermal_clips import clip_frames, people_clip, people_frames, thermal_clips
from thermalstream.detect.hotspot import HotspotDetector
from thermalstream.frame import Frame

TRUTH = json.loads((Path(__file__).parent / "data" / "thermal_truth.json").read_text())["clips"]
PEOPLE = json.loads((Path(__file__).parent / "data" / "people_truth.json").read_text())


def overlaps(a, b) -> bool:
    return not (a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1])


def xyxy(d) -> tuple[float, float, float, float]:
    return d.box.x1, d.box.y1, d.box.x2, d.box.y2


@pytest.fixture(scope="module")
def clips() -> dict[str, list[Frame]]:
    return {name: clip_frames(path) for name, path in thermal_clips().items()}


def counts_only(f: Frame) -> Frame:
    """The same frame as an uncalibrated source gives it: raw counts, no °C."""
    return Frame(image=f.image, seq=f.seq, timestamp=f.timestamp, celsius=None, raw=f.raw,
                 radiometry=replace(f.radiometry, calibrated=False))


def score(name: str, frames: list[Frame]) -> dict:
    truth = TRUTH[name]
    assert truth["frames"] == len(frames)
    det = HotspotDetector()  # defaults
    found = visible = false = on_ffc = 0
    units = set()
    for i, f in enumerate(frames):
        dets = det.detect_one(f)
        gt = truth["boxes"][i]
        boxes = [xyxy(d) for d in dets]
        if gt is not None:
            visible += 1
            found += any(overlaps(b, gt) for b in boxes)
        false += sum(1 for b in boxes if gt is None or not overlaps(b, gt))
        if i in truth["ffc_frames"]:
            on_ffc += len(boxes)
        for d in dets:
            units.add(d.extra["unit"])
            if f.celsius is None:  # counts are never called °C
                assert d.max_celsius is None and d.mean_celsius is None and d.max_counts > 1000
            else:
                assert d.max_counts is None and d.max_celsius is not None
            assert d.label == "hotspot" and d.extra["hint"] in ("person-sized", "animal-sized", "vehicle-sized")
    return {"recall": found / visible, "false_per_frame": false / len(frames), "on_ffc": on_ffc, "units": units}


@pytest.mark.parametrize("name", ["hedgehog", "possum"])
@pytest.mark.parametrize("as_counts", [False, True], ids=["as-read", "counts"])
def test_real_clip_found_with_defaults(clips, name, as_counts):
    frames = clips[name]
    if as_counts:
        frames = [counts_only(f) for f in frames]
    r = score(name, frames)
    assert r["recall"] >= 0.90, r
    assert r["false_per_frame"] <= 0.10, r
    assert r["on_ffc"] == 0, r
    if as_counts:
        assert r["units"] == {"counts"}


def test_real_clip_ffc_frame_is_in_the_truth(clips):
    """The hedgehog clip holds a real flat-field correction while the animal is in view."""
    assert TRUTH["hedgehog"]["ffc_frames"] and all(
        TRUTH["hedgehog"]["boxes"][i] is not None for i in TRUTH["hedgehog"]["ffc_frames"])
    f = clips["hedgehog"][TRUTH["hedgehog"]["ffc_frames"][0]]
    assert f.radiometry.extra["since_ffc_s"] < 1.0


def test_animal_hint_on_real_clips(clips):
    for name in ("hedgehog", "possum"):
        det = HotspotDetector()
        hints = [d.extra["hint"] for f in clips[name] for d in det.detect_one(f)]
        assert hints and max(set(hints), key=hints.count) == "animal-sized", (name, hints)


@pytest.fixture(scope="module")
def people() -> dict:
    """The people video through the default detector: per frame its detections and truth boxes."""
    frames = people_frames(people_clip())
    det = HotspotDetector()  # defaults
    return {"frames": frames, "dets": [det.detect_one(f) for f in frames]}


def test_people_clip_read_whole_as_counts(people):
    frames, dets = people["frames"], people["dets"]
    assert len(frames) == PEOPLE["frames"] == len(PEOPLE["boxes"]) == 350
    assert all(f.raw.shape == (512, 512) and f.celsius is None for f in frames)
    assert sum(1 for b in PEOPLE["boxes"] if b) >= 0.95 * len(frames)  # people are in view almost throughout
    found = [d for ds in dets for d in ds]
    assert found  # the detector reports people here, in counts, never in °C
    assert all(d.max_celsius is None and d.max_counts is not None and d.extra["unit"] == "counts" for d in found)


def test_people_clip_found_with_defaults(people):
    found = total = false = 0
    for ds, gt in zip(people["dets"], PEOPLE["boxes"]):
        boxes = [xyxy(d) for d in ds]
        total += len(gt)
        found += sum(1 for g in gt if any(overlaps(b, g) for b in boxes))
        false += sum(1 for b in boxes if not any(overlaps(b, g) for g in gt))
    recall, per_frame = found / total, false / len(people["dets"])
    assert recall >= 0.90 and per_frame <= 0.10, (recall, per_frame)
