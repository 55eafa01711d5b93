"""The simulator's scene: ``sim://`` parameters, precomputed background, noise, FFC schedule, rendering."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import cv2
import numpy as np

from thermalstream.frame import FFCState
from thermalstream.sources.base import SourceError
from thermalstream.sources.sim_actors import Actor, Dog, Walker, car_sprite, dog_sprites, person_sprites

FFC_FREEZE_S = 0.3  # how long the picture stays frozen during an FFC
FFC_IMMINENT_S = 1.0  # IMMINENT is reported this long before an FFC

_PARAMS = {"width", "height", "fps", "people", "vehicle", "animal", "seed", "ffc", "noise", "pace"}
_NOISE_PAD_Y = 48
_NOISE_PAD_X = 96
_MASK64 = (1 << 64) - 1


def mix(*values: int) -> int:
    """A small deterministic 64-bit hash (splitmix64 over the values)."""
    h = 0x9E3779B97F4A7C15
    for v in values:
        h = (h ^ (int(v) & _MASK64)) * 0xBF58476D1CE4E5B9 & _MASK64
        h ^= h >> 31
        h = (h * 0x94D049BB133111EB) & _MASK64
        h ^= h >> 29
    return h


def unit(*values: int) -> float:
    """Deterministic float in [0, 1) from the values."""
    return (mix(*values) >> 11) / float(1 << 53)


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



# --------------------------------------------------------------------------- scene


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    small = rng.standard_normal((max(h // cells, 2), max(w // cells, 2))).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


class Scene:
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
        self.actors: list[Actor] = []
        k = 0.5 * H / max(H - hz, 1)  # person height (px) per pixel below the horizon

        def person_h(feet_y: float) -> float:
            return k * (feet_y - hz)

        for i in range(p.people):
            feet = rng.uniform(H * 0.50, H * 0.86)
            ph = person_h(feet)
            speed_px = ph / 1.75 * rng.uniform(1.0, 1.6)  # 1.0-1.6 m/s
            sprites = person_sprites(int(ph), 8, rng)
            self.actors.append(
                Walker(
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
                Walker(
                    "car", [car_sprite(int(length), rng)], feet, length / 4.5 * rng.uniform(3, 6),
                    1 if rng.random() < 0.5 else -1, rng.uniform(0, W * 3), W, stride=0, rng=rng,
                )
            )
        for i in range(p.animal):
            feet = rng.uniform(H * 0.70, H * 0.90)
            length = person_h(feet) * 0.55
            self.actors.append(Dog(dog_sprites(int(length), 4, rng), rng.uniform(W * 0.3, W * 0.7), feet, W, rng))

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
        base = (0.15 + 0.25 * unit(seed, k, 1)) * (1 if k % 2 == 0 else -1)
        drift = (unit(seed, k, 2) - 0.5) * 0.16 * (r / e)
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
        h = mix(self.p.seed, content_index, 3)
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
