"""A simulated radiometric thermal camera: ``sim://?people=3&seed=1``.

The scene is a plausible outdoor view in °C: a cold sky band, a distant tree line, a
warm building with leaky windows, ground getting warmer towards the camera and a sun-warmed
road, plus sensor noise (temporal and fixed-pattern). On it walk people (warm heads, clothed
bodies, a walking gait), a car drives along the road (hot engine, warm tyres, cold windows
reflecting the sky) and a dog runs around erratically. Every ``ffc`` seconds of simulated time
the camera performs a flat-field correction like a FLIR Lepton: the picture freezes for a
few frames (``Radiometry.ffc_state`` = IN_PROGRESS) and the whole frame's level jumps by a
few tenths of a degree.

URL parameters (all optional)::

    width=640 height=512 fps=25   image size and frame rate
    people=3 vehicle=1 animal=1   how many people, cars and dogs
    seed=0                        scene, paths and noise are a function of the seed only
    ffc=30                        seconds between flat-field corrections (0: never)
    noise=0.05                    temporal noise (NETD), °C standard deviation
    pace=1                        0: read() returns frames as fast as asked (benchmarks, tests)

Determinism: frame N depends only on (parameters, N). Two sources with the same URL produce
identical ``celsius`` arrays for the same index; only ``Frame.timestamp`` comes from the clock.
``SimSource.render(n)`` gives frame n without pacing, ``SimSource.objects(n)`` the ground-truth
boxes ``(label, x1, y1, x2, y2)`` (labels "person", "car", "dog"; x2/y2 exclusive).

Cost: everything heavy (background, fixed-pattern noise, a noise bank, sprite templates for
each gait phase) is computed once; a frame is a few full-frame OpenCV passes (~0.3 ms CPU at
640x512) plus small pastes of the sprites.
"""

from __future__ import annotations

import threading
import time

import cv2

from thermalstream.frame import FFCState, Frame, Radiometry
from thermalstream.sources.base import Source, SourceClosed, SourceError, SourceInfo
from thermalstream.sources.sim_scene import Scene, SimParams, parse_sim_params
from thermalstream.sources.url import CameraURL, parse_camera_url

# Display span (°C) of the white-hot image; fixed so the picture does not flicker.
DISPLAY_LO = 5.0
DISPLAY_HI = 40.0
UNIT_SCALE = 0.01  # raw = Kelvin * 100, like a Lepton in TLinear mode
UNIT_OFFSET = -273.15


# --------------------------------------------------------------------------- the source


class SimSource(Source):
    """Simulated radiometric thermal camera (see the module docstring for parameters)."""

    def __init__(self, url: CameraURL | str = "sim://"):
        cu = url if isinstance(url, CameraURL) else parse_camera_url(url)
        if cu.kind != "sim":
            raise SourceError(f"SimSource needs a sim:// URL, got a {cu.kind} URL")
        self.url = cu
        self.params = parse_sim_params(cu.params)
        p = self.params
        self.info = SourceInfo(
            kind="sim",
            width=p.width,
            height=p.height,
            fps=p.fps,
            radiometric=True,
            live=True,
            description=f"simulated thermal camera {p.width}x{p.height} @ {p.fps:g} fps "
            f"(people={p.people}, vehicle={p.vehicle}, animal={p.animal}, seed={p.seed})",
        )
        self._scene: Scene | None = None
        self._scene_lock = threading.Lock()
        self._closed = threading.Event()
        self._opened = False
        self._next = 0
        self._t0 = 0.0
        self._wall0 = 0.0
        self._alpha = 255.0 / (DISPLAY_HI - DISPLAY_LO)
        self._beta = -DISPLAY_LO * self._alpha

    # ---- scene access

    @property
    def scene(self) -> Scene:
        if self._scene is None:
            with self._scene_lock:
                if self._scene is None:
                    self._scene = Scene(self.params)
        return self._scene

    def render(self, index: int, timestamp: float | None = None) -> Frame:
        """Frame ``index`` (no pacing). Content depends only on the parameters and ``index``."""
        index = int(index)
        sc = self.scene
        content, state, _ = sc.ffc_info(index)
        with sc.lock:
            celsius = sc.render_celsius(content)
        raw = cv2.addWeighted(celsius, 100.0, celsius, 0.0, -UNIT_OFFSET * 100.0, dtype=cv2.CV_16U)
        image = cv2.addWeighted(celsius, self._alpha, celsius, 0.0, self._beta, dtype=cv2.CV_8U)
        return Frame(
            image=image,
            seq=index,
            timestamp=time.time() if timestamp is None else timestamp,
            celsius=celsius,
            raw=raw,
            radiometry=Radiometry(
                calibrated=True,
                unit_scale=UNIT_SCALE,
                unit_offset=UNIT_OFFSET,
                ffc_state=state,
                sensor="sim",
                description="simulated scene, kelvin x 100",
            ),
        )

    def objects(self, index: int) -> list[tuple[str, int, int, int, int]]:
        """Ground-truth boxes ``(label, x1, y1, x2, y2)`` for frame ``index`` (x2, y2 exclusive).

        Objects less than 30% inside the frame are left out; boxes are clipped to the frame.
        During an FFC freeze the boxes are those of the frozen picture.
        """
        sc = self.scene
        content, _, _ = sc.ffc_info(int(index))
        return sc.objects(content)

    def ffc_state(self, index: int) -> FFCState:
        return self.scene.ffc_info(int(index))[1]

    # ---- Source interface

    def open(self) -> SourceInfo:
        if self._closed.is_set():
            raise SourceClosed("sim: source is closed")
        _ = self.scene  # build everything heavy now, not on the first read
        self._next = 0
        self._t0 = time.monotonic()
        self._wall0 = time.time()
        self._opened = True
        return self.info

    def read(self) -> Frame:
        if self._closed.is_set():
            raise SourceClosed("sim: source is closed")
        if not self._opened:
            self.open()
        p = self.params
        if not p.pace:
            n = self._next
            self._next = n + 1
            return self.render(n)
        period = 1.0 / p.fps
        n = self._next
        due = self._t0 + n * period
        now = time.monotonic()
        if now < due:
            if self._closed.wait(due - now):
                raise SourceClosed("sim: source is closed")
        elif now - due >= period:
            # behind schedule: skip to the frame due now instead of bursting to catch up
            n = int((now - self._t0) * p.fps)
        self._next = n + 1
        return self.render(n, timestamp=self._wall0 + n * period)

    def close(self) -> None:
        self._closed.set()


__all__ = ["SimSource", "SimParams", "parse_sim_params", "DISPLAY_LO", "DISPLAY_HI"]
