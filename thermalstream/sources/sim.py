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

import math
import threading
import time
from dataclasses import dataclass

import cv2
import numpy as np

from thermalstream.frame import FFCState, Frame, Radiometry
from thermalstream.sources.base import Source, SourceClosed, SourceError, SourceInfo
from thermalstream.sources.url import CameraURL, parse_camera_url

# Display span (°C) of the white-hot image; fixed so the picture does not flicker.
DISPLAY_LO = 5.0
DISPLAY_HI = 40.0
UNIT_SCALE = 0.01  # raw = Kelvin * 100, like a Lepton in TLinear mode
UNIT_OFFSET = -273.15
FFC_FREEZE_S = 0.3  # how long the picture stays frozen during an FFC
FFC_IMMINENT_S = 1.0  # IMMINENT is reported this long before an FFC

_PARAMS = {"width", "height", "fps", "people", "vehicle", "animal", "seed", "ffc", "noise", "pace"}
_NOISE_PAD_Y = 48
_NOISE_PAD_X = 96
_MASK64 = (1 << 64) - 1


def _mix(*values: int) -> int:
    """A small deterministic 64-bit hash (splitmix64 over the values)."""
    h = 0x9E3779B97F4A7C15
    for v in values:
        h = (h ^ (int(v) & _MASK64)) * 0xBF58476D1CE4E5B9 & _MASK64
        h ^= h >> 31
        h = (h * 0x94D049BB133111EB) & _MASK64
        h ^= h >> 29
    return h


def _unit(*values: int) -> float:
    """Deterministic float in [0, 1) from the values."""
    return (_mix(*values) >> 11) / float(1 << 53)


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class SimParams:
    width: int = 640
    height: int = 512
    fps: float = 25.0
    people: int = 3
    vehicle: int = 1
    animal: int = 1
    seed: int = 0
    ffc: float = 30.0
    noise: float = 0.05
    pace: bool = True


def _int_param(params: dict, name: str, default: int, lo: int, hi: int) -> int:
    if name not in params:
        return default
    text = str(params[name]).strip()
    try:
        value = int(text)
    except ValueError:
        raise SourceError(f"sim: parameter {name}={text!r} is not an integer") from None
    if not lo <= value <= hi:
        raise SourceError(f"sim: parameter {name}={value} is out of range ({lo}..{hi})")
    return value


def _float_param(params: dict, name: str, default: float, lo: float, hi: float) -> float:
    if name not in params:
        return default
    text = str(params[name]).strip()
    try:
        value = float(text)
    except ValueError:
        raise SourceError(f"sim: parameter {name}={text!r} is not a number") from None
    if not math.isfinite(value) or not lo <= value <= hi:
        raise SourceError(f"sim: parameter {name}={value} is out of range ({lo:g}..{hi:g})")
    return value


def parse_sim_params(params: dict[str, str]) -> SimParams:
    """Validate ``sim://`` query parameters; raise :class:`SourceError` with a clear message."""
    unknown = sorted(set(params) - _PARAMS)
    if unknown:
        raise SourceError(
            f"sim: unknown parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(_PARAMS))}"
        )
    pace_text = str(params.get("pace", "1")).strip().lower()
    if pace_text in ("1", "true", "yes", "on"):
        pace = True
    elif pace_text in ("0", "false", "no", "off"):
        pace = False
    else:
        raise SourceError(f"sim: parameter pace={pace_text!r} must be 0 or 1")
    return SimParams(
        width=_int_param(params, "width", 640, 32, 4096),
        height=_int_param(params, "height", 512, 32, 4096),
        fps=_float_param(params, "fps", 25.0, 0.1, 1000.0),
        people=_int_param(params, "people", 3, 0, 50),
        vehicle=_int_param(params, "vehicle", 1, 0, 5),
        animal=_int_param(params, "animal", 1, 0, 10),
        seed=_int_param(params, "seed", 0, -(2**63), 2**63 - 1),
        ffc=_float_param(params, "ffc", 30.0, 0.0, 1e6),
        noise=_float_param(params, "noise", 0.05, 0.0, 5.0),
        pace=pace,
    )


# --------------------------------------------------------------------------- sprites


class _Sprite:
    """A pre-blurred object template: paste as ``region = region * (1 - a) + a * T``."""

    __slots__ = ("oma", "at", "h", "w", "box")

    def __init__(self, temp: np.ndarray, alpha: np.ndarray):
        alpha = np.clip(alpha, 0.0, 1.0).astype(np.float32)
        self.oma = (1.0 - alpha).astype(np.float32)
        self.at = (alpha * temp).astype(np.float32)
        self.h, self.w = alpha.shape
        ys, xs = np.nonzero(alpha >= 0.5)
        if len(ys):
            self.box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        else:
            self.box = (0, 0, self.w, self.h)

    def flipped(self) -> "_Sprite":
        s = object.__new__(_Sprite)
        s.oma = np.ascontiguousarray(self.oma[:, ::-1])
        s.at = np.ascontiguousarray(self.at[:, ::-1])
        s.h, s.w = self.h, self.w
        x1, y1, x2, y2 = self.box
        s.box = (self.w - x2, y1, self.w - x1, y2)
        return s


class _Canvas:
    """Draw parts back to front with their own temperature, then blur (optics)."""

    def __init__(self, h: int, w: int):
        self.h, self.w = h, w
        self.temp = np.zeros((h, w), np.float32)
        self.mask = np.zeros((h, w), np.uint8)
        self._part = np.zeros((h, w), np.uint8)

    def part(self, temp: float, draw) -> None:
        self._part[:] = 0
        draw(self._part)
        m = self._part > 0
        self.temp[m] = temp
        self.mask[m] = 255

    def sprite(self, blur: float) -> _Sprite:
        a = self.mask.astype(np.float32) / 255.0
        if blur > 0:
            k = (0, 0)
            a_b = cv2.GaussianBlur(a, k, blur)
            ta = cv2.GaussianBlur(self.temp * a, k, blur)
            temp = np.where(a_b > 1e-3, ta / np.maximum(a_b, 1e-3), 0.0).astype(np.float32)
            a = a_b
        else:
            temp = self.temp
        return _Sprite(temp, a)


def _person_sprites(height: int, phases: int, rng: np.random.Generator) -> list[_Sprite]:
    h = max(int(height), 12)
    w = max(int(h * 0.42), 6)
    pad = 2
    head_t = 34.0 + rng.uniform(-0.5, 0.8)
    torso_t = 29.5 + rng.uniform(-1.5, 1.5)  # clothing surface
    legs_t = 27.5 + rng.uniform(-1.5, 1.5)
    hand_t = 31.5 + rng.uniform(-1.0, 1.0)
    out = []
    for p in range(phases):
        ph = 2 * math.pi * p / phases
        c = _Canvas(h + 2 * pad, w + 2 * pad)
        cx = pad + w / 2
        top = pad
        head_r = max(h * 0.065, 1.5)
        hip_y = top + h * 0.53
        shoulder_y = top + h * 0.19
        leg_len = h * 0.47
        arm_len = h * 0.36
        thick_leg = max(int(round(h * 0.075)), 1)
        thick_arm = max(int(round(h * 0.055)), 1)
        swing = 0.45 * math.sin(ph)

        def limb(img, x0, y0, length, angle, thick):
            x1 = x0 + length * math.sin(angle)
            y1 = y0 + length * math.cos(angle)
            cv2.line(img, (int(round(x0)), int(round(y0))), (int(round(x1)), int(round(y1))), 255, thick)

        # far leg and arm, torso, near leg and arm, head (back to front)
        c.part(legs_t - 0.6, lambda im: limb(im, cx, hip_y, leg_len, -swing, thick_leg))
        c.part(torso_t - 0.5, lambda im: limb(im, cx, shoulder_y + 2, arm_len, swing * 0.8, thick_arm))
        c.part(
            torso_t,
            lambda im: cv2.ellipse(
                im,
                (int(round(cx)), int(round((shoulder_y + hip_y) / 2))),
                (max(int(w * 0.21), 1), max(int((hip_y - shoulder_y) / 2 + h * 0.03), 1)),
                0, 0, 360, 255, -1,
            ),
        )
        c.part(legs_t, lambda im: limb(im, cx, hip_y, leg_len, swing, thick_leg))
        c.part(torso_t + 0.3, lambda im: limb(im, cx, shoulder_y + 2, arm_len, -swing * 0.8, thick_arm))
        hx = cx - arm_len * math.sin(swing * 0.8)
        hy = shoulder_y + 2 + arm_len * math.cos(swing * 0.8)
        c.part(hand_t, lambda im: cv2.circle(im, (int(round(hx)), int(round(hy))), max(thick_arm // 2, 1), 255, -1))
        c.part(
            head_t,
            lambda im: cv2.circle(im, (int(round(cx)), int(round(top + head_r + 0.5))), int(round(head_r)) + 1, 255, -1),
        )
        out.append(c.sprite(blur=max(h / 90.0, 0.6)))
    return out


def _car_sprite(length: int, rng: np.random.Generator) -> _Sprite:
    """Side view of a car facing right (front at the right)."""
    L = max(int(length), 24)
    H = max(int(L * 0.36), 8)
    pad = 2
    c = _Canvas(H + 2 * pad, L + 2 * pad)
    body_t = 14.0 + rng.uniform(-1, 2)
    x0, y0 = pad, pad
    wheel_r = max(int(H * 0.19), 2)
    base_y = y0 + H - wheel_r
    c.part(  # body
        body_t,
        lambda im: cv2.rectangle(im, (x0, y0 + int(H * 0.42)), (x0 + L - 1, base_y), 255, -1),
    )
    cabin = np.array(
        [
            (x0 + int(L * 0.18), y0 + int(H * 0.44)),
            (x0 + int(L * 0.30), y0),
            (x0 + int(L * 0.62), y0),
            (x0 + int(L * 0.76), y0 + int(H * 0.44)),
        ],
        np.int32,
    )
    c.part(body_t - 0.5, lambda im: cv2.fillPoly(im, [cabin], 255))
    win = np.array(
        [
            (x0 + int(L * 0.23), y0 + int(H * 0.40)),
            (x0 + int(L * 0.32), y0 + int(H * 0.06)),
            (x0 + int(L * 0.60), y0 + int(H * 0.06)),
            (x0 + int(L * 0.71), y0 + int(H * 0.40)),
        ],
        np.int32,
    )
    c.part(4.0, lambda im: cv2.fillPoly(im, [win], 255))  # glass reflects the cold sky
    c.part(  # hood / engine bay
        46.0 + rng.uniform(-4, 6),
        lambda im: cv2.rectangle(
            im, (x0 + int(L * 0.77), y0 + int(H * 0.45)), (x0 + L - 2, y0 + int(H * 0.62)), 255, -1
        ),
    )
    c.part(  # grille / radiator
        52.0,
        lambda im: cv2.rectangle(
            im, (x0 + L - max(int(L * 0.04), 2), y0 + int(H * 0.5)), (x0 + L - 1, base_y - 1), 255, -1
        ),
    )
    c.part(  # exhaust
        70.0,
        lambda im: cv2.circle(im, (x0 + 2, base_y - 1), max(int(H * 0.05), 1), 255, -1),
    )
    for fx in (0.2, 0.8):
        wx = x0 + int(L * fx)
        c.part(36.0, lambda im, wx=wx: cv2.circle(im, (wx, base_y), wheel_r, 255, -1))
        c.part(42.0, lambda im, wx=wx: cv2.circle(im, (wx, base_y), max(wheel_r // 3, 1), 255, -1))
    return c.sprite(blur=max(L / 250.0, 0.6))


def _dog_sprites(length: int, phases: int, rng: np.random.Generator) -> list[_Sprite]:
    """Side view of a dog facing right."""
    L = max(int(length), 12)
    H = max(int(L * 0.65), 8)
    pad = 2
    fur_t = 28.5 + rng.uniform(-1.5, 1.5)
    out = []
    for p in range(phases):
        ph = 2 * math.pi * p / phases
        c = _Canvas(H + 2 * pad, L + 2 * pad)
        x0, y0 = pad, pad
        body_cy = y0 + int(H * 0.45)
        leg_top = body_cy + int(H * 0.1)
        leg_len = H - (leg_top - y0) - 1
        lt = max(int(L * 0.05), 1)
        swing = 0.5 * math.sin(ph)
        for fx, s in ((0.25, swing), (0.3, -swing), (0.7, -swing), (0.75, swing)):
            xx = x0 + L * fx

            def leg(im, xx=xx, s=s):
                cv2.line(
                    im,
                    (int(xx), leg_top),
                    (int(xx + leg_len * math.sin(s)), int(leg_top + leg_len * math.cos(s))),
                    255,
                    lt,
                )

            c.part(fur_t + 1.0, leg)
        c.part(
            fur_t,
            lambda im: cv2.ellipse(im, (x0 + int(L * 0.48), body_cy), (int(L * 0.33), int(H * 0.17)), 0, 0, 360, 255, -1),
        )
        c.part(
            fur_t - 2.0,
            lambda im: cv2.line(
                im,
                (x0 + int(L * 0.16), body_cy - int(H * 0.05)),
                (x0 + 1, body_cy - int(H * 0.3 + H * 0.08 * math.sin(ph * 2))),
                255,
                max(lt // 2, 1),
            ),
        )
        c.part(
            31.0,
            lambda im: cv2.circle(im, (x0 + int(L * 0.84), y0 + int(H * 0.2)), max(int(H * 0.15), 2), 255, -1),
        )
        c.part(  # eyes / nose: warmest
            34.5,
            lambda im: cv2.circle(im, (x0 + int(L * 0.93), y0 + int(H * 0.22)), max(int(H * 0.05), 1), 255, -1),
        )
        out.append(c.sprite(blur=max(L / 120.0, 0.5)))
    return out


# --------------------------------------------------------------------------- actors


class _Actor:
    """Something moving in the scene; ``place(t)`` -> (sprite, x, y) with x, y the top-left."""

    label = ""

    def place(self, t: float) -> tuple[_Sprite, int, int, float]:  # pragma: no cover - abstract
        raise NotImplementedError


class _Walker(_Actor):
    """A person or a car moving horizontally at a fixed depth and wrapping around."""

    def __init__(self, label, sprites, feet_y, speed, direction, x0, width, stride, rng, bob=0.0, wobble=0.0):
        self.label = label
        self.right = sprites
        self.left = [s.flipped() for s in sprites]
        self.feet_y = feet_y
        self.speed = speed
        self.direction = direction
        sw = sprites[0].w
        # travel loop: across the frame, then off screen for a while before coming back
        self.period = width + 2 * sw + rng.uniform(0.1, 0.6) * width
        self.sw = sw
        self.width = width
        self.x0 = x0
        self.stride = stride
        self.bob = bob
        self.wobble = wobble
        self.wobble_w = rng.uniform(0.15, 0.4)
        self.wobble_p = rng.uniform(0, 2 * math.pi)

    def place(self, t):
        dist = self.x0 + self.speed * t
        pos = dist % self.period - self.sw
        if self.direction < 0:
            sprites = self.left
            x = self.width - self.sw - pos  # mirrored path
        else:
            sprites = self.right
            x = pos
        n = len(sprites)
        phase = (dist / self.stride) % 1.0 if self.stride > 0 else 0.0
        spr = sprites[int(phase * n) % n]
        bob = self.bob * abs(math.sin(2 * math.pi * phase))
        y = self.feet_y - spr.h + self.wobble * math.sin(self.wobble_w * t + self.wobble_p) - bob
        return spr, int(round(x)), int(round(y)), self.feet_y


class _Dog(_Actor):
    label = "dog"

    def __init__(self, sprites, cx, feet_y, width, rng):
        self.right = sprites
        self.left = [s.flipped() for s in sprites]
        self.cx = cx
        self.feet_y = feet_y
        amp = width * 0.12
        self.terms = [
            (amp * rng.uniform(0.8, 1.4), rng.uniform(0.35, 0.6), rng.uniform(0, 6.3)),
            (amp * rng.uniform(0.5, 0.9), rng.uniform(1.1, 1.7), rng.uniform(0, 6.3)),
            (amp * rng.uniform(0.3, 0.6), rng.uniform(2.3, 3.4), rng.uniform(0, 6.3)),
        ]
        self.yterms = [
            (width * 0.02 * rng.uniform(0.5, 1.5), rng.uniform(0.5, 1.0), rng.uniform(0, 6.3)),
            (width * 0.01 * rng.uniform(0.5, 1.5), rng.uniform(1.9, 2.9), rng.uniform(0, 6.3)),
        ]

    def place(self, t):
        x = self.cx + sum(a * math.sin(w * t + p) for a, w, p in self.terms)
        vx = sum(a * w * math.cos(w * t + p) for a, w, p in self.terms)
        y = self.feet_y + sum(a * math.sin(w * t + p) for a, w, p in self.yterms)
        sprites = self.right if vx >= 0 else self.left
        # gait from a monotone "distance" proxy: fast legs when running
        n = len(sprites)
        phase = (t * 3.0) % 1.0
        spr = sprites[int(phase * n) % n]
        return spr, int(round(x - spr.w / 2)), int(round(y - spr.h)), y


# --------------------------------------------------------------------------- scene


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    small = rng.standard_normal((max(h // cells, 2), max(w // cells, 2))).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


class _Scene:
    """Everything precomputed for one parameter set."""

    def __init__(self, p: SimParams):
        self.p = p
        W, H = p.width, p.height
        rng = np.random.default_rng(np.random.SeedSequence([p.seed & _MASK64, 0x7E57]))
        self.horizon = hz = int(H * 0.36)
        ys = np.arange(H, dtype=np.float32)[:, None]
        xs = np.arange(W, dtype=np.float32)[None, :]

        # ground: 12 °C at the horizon to 17 °C at the bottom, with texture
        ground = 12.0 + 5.0 * np.clip((ys - hz) / max(H - hz, 1), 0, 1) + 0.6 * _smooth_noise(rng, H, W, 24)
        ground += 0.25 * _smooth_noise(rng, H, W, 6)
        # sky: -8 °C at the top to +3 °C at the horizon (clear sky is cold)
        sky = -8.0 + 11.0 * np.clip(ys / max(hz, 1), 0, 1) ** 1.5 + 0.5 * _smooth_noise(rng, H, W, 40)
        bg = np.where(ys < hz, sky, ground).astype(np.float32)
        # road (sun-warmed asphalt), where the car drives
        self.road_y = road_y = int(H * 0.60)
        road_top = int(H * 0.52)
        bg[road_top:road_y + int(H * 0.02)] = 19.5 + 0.3 * _smooth_noise(rng, road_y + int(H * 0.02) - road_top, W, 8)
        # distant tree line along the horizon
        tree_h = (H * 0.035 * (1.0 + _smooth_noise(rng, 1, W, 12)[0] * 0.8)).clip(1)
        tree = (ys < hz) & (ys > hz - tree_h[None, :])
        bg = np.where(tree, 9.5 + 0.4 * _smooth_noise(rng, H, W, 10), bg).astype(np.float32)
        # a building on one side: warm walls, warmer leaky windows, cool roof
        side = rng.integers(2)
        bx1, bx2 = (int(W * 0.04), int(W * 0.30)) if side == 0 else (int(W * 0.70), int(W * 0.96))
        by1, by2 = int(H * 0.12), int(H * 0.50)
        bg[by1:by2, bx1:bx2] = 18.0 + 1.5 * (ys[by1:by2] - by1) / max(by2 - by1, 1) + 0.3 * _smooth_noise(
            rng, by2 - by1, bx2 - bx1, 10
        )
        bg[by1:by1 + max(int(H * 0.02), 1), bx1:bx2] = 6.0  # roof edge sees the sky
        ww, wh = max(int(W * 0.035), 2), max(int(H * 0.05), 2)
        for wy in np.linspace(by1 + H * 0.05, by2 - H * 0.12, 3):
            for wx in np.linspace(bx1 + W * 0.03, bx2 - W * 0.06, 4):
                bg[int(wy):int(wy) + wh, int(wx):int(wx) + ww] = 22.0 + rng.uniform(-1, 2)
        bg = cv2.GaussianBlur(bg, (0, 0), max(W / 640.0, 0.5))
        # lens/housing: corners a little warmer
        r2 = ((xs - W / 2) / (W / 2)) ** 2 + ((ys - H / 2) / (H / 2)) ** 2
        bg += (0.35 * r2).astype(np.float32)
        # fixed-pattern noise: column offsets and per-pixel offsets
        bg += rng.normal(0, 0.04, (1, W)).astype(np.float32)
        bg += rng.normal(0, 0.02, (H, W)).astype(np.float32)
        self.bg = np.ascontiguousarray(bg, dtype=np.float32)
        self.work = self.bg.copy()  # bg + sprites, restored after each frame

        # temporal noise bank: one padded random field, a shifted window per frame
        nr = np.random.default_rng(np.random.SeedSequence([p.seed & _MASK64, 0x401]))
        self.noise = (nr.standard_normal((H + _NOISE_PAD_Y, W + _NOISE_PAD_X), dtype=np.float32) * p.noise).astype(
            np.float32
        )

        # actors
        self.actors: list[_Actor] = []
        k = 0.5 * H / max(H - hz, 1)  # person height (px) per pixel below the horizon

        def person_h(feet_y: float) -> float:
            return k * (feet_y - hz)

        for i in range(p.people):
            feet = rng.uniform(H * 0.50, H * 0.86)
            ph = person_h(feet)
            speed_px = ph / 1.75 * rng.uniform(1.0, 1.6)  # 1.0-1.6 m/s
            sprites = _person_sprites(int(ph), 8, rng)
            self.actors.append(
                _Walker(
                    "person", sprites, feet, speed_px, 1 if rng.random() < 0.5 else -1,
                    rng.uniform(0, W * 2), W, stride=ph * 0.8, rng=rng, bob=max(ph * 0.015, 0.0),
                    wobble=ph * 0.08,
                )
            )
        for i in range(p.vehicle):
            feet = road_y - i * H * 0.03
            car_h = person_h(feet) * 0.85
            length = car_h / 0.36
            self.actors.append(
                _Walker(
                    "car", [_car_sprite(int(length), rng)], feet, length / 4.5 * rng.uniform(3, 6),
                    1 if rng.random() < 0.5 else -1, rng.uniform(0, W * 3), W, stride=0, rng=rng,
                )
            )
        for i in range(p.animal):
            feet = rng.uniform(H * 0.70, H * 0.90)
            length = person_h(feet) * 0.55
            self.actors.append(_Dog(_dog_sprites(int(length), 4, rng), rng.uniform(W * 0.3, W * 0.7), feet, W, rng))

        # FFC schedule
        self.ffc_every = int(round(p.ffc * p.fps)) if p.ffc > 0 else 0
        self.ffc_freeze = max(1, int(round(FFC_FREEZE_S * p.fps)))
        self.ffc_imminent = max(1, int(round(FFC_IMMINENT_S * p.fps)))
        if self.ffc_every and self.ffc_every <= self.ffc_freeze + 1:
            self.ffc_every = self.ffc_freeze + 2
        self.lock = threading.Lock()

    # ---- time structure

    def ffc_info(self, index: int) -> tuple[int, FFCState, int]:
        """(content index, FFC state, epoch) for frame ``index``."""
        e = self.ffc_every
        if not e or index < 0:
            return index, FFCState.IDLE, 0
        k, r = divmod(index, e)
        if k >= 1 and r < self.ffc_freeze:
            return k * e - 1, FFCState.IN_PROGRESS, k
        if r >= e - self.ffc_imminent:
            return index, FFCState.IMMINENT, k
        return index, (FFCState.DONE if k >= 1 else FFCState.IDLE), k

    def offset(self, index: int) -> float:
        """Level offset (°C): a base per FFC epoch alternating in sign, plus a slow drift."""
        e = self.ffc_every
        if not e:
            return 0.0
        k, r = divmod(index, e)
        seed = self.p.seed
        base = (0.15 + 0.25 * _unit(seed, k, 1)) * (1 if k % 2 == 0 else -1)
        drift = (_unit(seed, k, 2) - 0.5) * 0.16 * (r / e)
        return base + drift

    def placements(self, content_index: int):
        t = content_index / self.p.fps
        out = []
        for a in self.actors:
            spr, x, y, depth = a.place(t)
            out.append((depth, a.label, spr, x, y))
        out.sort(key=lambda o: o[0])
        return out

    # ---- rendering

    def render_celsius(self, content_index: int) -> np.ndarray:
        H, W = self.p.height, self.p.width
        work, bg = self.work, self.bg
        touched = []
        for _, _, spr, x, y in self.placements(content_index):
            x1, y1 = max(x, 0), max(y, 0)
            x2, y2 = min(x + spr.w, W), min(y + spr.h, H)
            if x2 <= x1 or y2 <= y1:
                continue
            reg = work[y1:y2, x1:x2]
            sy, sx = y1 - y, x1 - x
            reg *= spr.oma[sy:sy + y2 - y1, sx:sx + x2 - x1]
            reg += spr.at[sy:sy + y2 - y1, sx:sx + x2 - x1]
            touched.append((y1, y2, x1, x2))
        h = _mix(self.p.seed, content_index, 3)
        dy = h % _NOISE_PAD_Y
        dx = (h >> 16) % _NOISE_PAD_X
        sign = 1.0 if (h >> 40) & 1 else -1.0
        noise = self.noise[dy:dy + H, dx:dx + W]
        celsius = cv2.addWeighted(work, 1.0, noise, sign, self.offset(content_index))
        for y1, y2, x1, x2 in touched:
            work[y1:y2, x1:x2] = bg[y1:y2, x1:x2]
        return celsius

    def objects(self, content_index: int) -> list[tuple[str, int, int, int, int]]:
        W, H = self.p.width, self.p.height
        out = []
        for _, label, spr, x, y in self.placements(content_index):
            bx1, by1, bx2, by2 = spr.box
            x1, y1, x2, y2 = x + bx1, y + by1, x + bx2, y + by2
            area = (x2 - x1) * (y2 - y1)
            cx1, cy1, cx2, cy2 = max(x1, 0), max(y1, 0), min(x2, W), min(y2, H)
            if cx2 <= cx1 or cy2 <= cy1 or area <= 0:
                continue
            if (cx2 - cx1) * (cy2 - cy1) < 0.3 * area:
                continue
            out.append((label, cx1, cy1, cx2, cy2))
        return out


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
        self._scene: _Scene | None = None
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
    def scene(self) -> _Scene:
        if self._scene is None:
            with self._scene_lock:
                if self._scene is None:
                    self._scene = _Scene(self.params)
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
