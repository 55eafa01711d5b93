"""The simulator's objects: pre-blurred sprite templates (people, cars, dogs) and how they move."""

from __future__ import annotations

import math

import cv2
import numpy as np

# --------------------------------------------------------------------------- sprites


class Sprite:
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

    def flipped(self) -> "Sprite":
        s = object.__new__(Sprite)
        s.oma = np.ascontiguousarray(self.oma[:, ::-1])
        s.at = np.ascontiguousarray(self.at[:, ::-1])
        s.h, s.w = self.h, self.w
        x1, y1, x2, y2 = self.box
        s.box = (self.w - x2, y1, self.w - x1, y2)
        return s


class Canvas:
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

    def sprite(self, blur: float) -> Sprite:
        a = self.mask.astype(np.float32) / 255.0
        if blur > 0:
            k = (0, 0)
            a_b = cv2.GaussianBlur(a, k, blur)
            ta = cv2.GaussianBlur(self.temp * a, k, blur)
            temp = np.where(a_b > 1e-3, ta / np.maximum(a_b, 1e-3), 0.0).astype(np.float32)
            a = a_b
        else:
            temp = self.temp
        return Sprite(temp, a)


def person_sprites(height: int, phases: int, rng: np.random.Generator) -> list[Sprite]:
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
        c = Canvas(h + 2 * pad, w + 2 * pad)
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


def car_sprite(length: int, rng: np.random.Generator) -> Sprite:
    """Side view of a car facing right (front at the right)."""
    L = max(int(length), 24)
    H = max(int(L * 0.36), 8)
    pad = 2
    c = Canvas(H + 2 * pad, L + 2 * pad)
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


def dog_sprites(length: int, phases: int, rng: np.random.Generator) -> list[Sprite]:
    """Side view of a dog facing right."""
    L = max(int(length), 12)
    H = max(int(L * 0.65), 8)
    pad = 2
    fur_t = 28.5 + rng.uniform(-1.5, 1.5)
    out = []
    for p in range(phases):
        ph = 2 * math.pi * p / phases
        c = Canvas(H + 2 * pad, L + 2 * pad)
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


class Actor:
    """Something moving in the scene; ``place(t)`` -> (sprite, x, y) with x, y the top-left."""

    label = ""

    def place(self, t: float) -> tuple[Sprite, int, int, float]:  # pragma: no cover - abstract
        raise NotImplementedError


class Walker(Actor):
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


class Dog(Actor):
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
