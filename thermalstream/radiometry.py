"""Per-camera radiometric parameters and user calibration, applied to every frame of a camera.

A camera's :class:`RadiometrySettings` (stored with the camera, edited through
``PATCH /api/cameras/{id}/radiometry`` and the Live page) hold:

* **Object parameters** (each None = the file's own value, or the neutral default below):
  ``emissivity`` (0.01–1.0), ``reflected_c`` (reflected apparent temperature, °C),
  ``atmosphere_c`` (°C), ``humidity`` (relative humidity as a *fraction*, 0–1: 0.5 is 50 %)
  and ``distance_m`` (metres, ≥ 0).
* **A calibration** for sources that give uncalibrated counts: a linear law
  ``°C = a * counts + b``, or two reference points (counts1 → °C1, counts2 → °C2).

How they are applied (:func:`apply`), by kind of frame:

* FLIR files (SEQ/FFF/R-JPEG/CSQ): the raw counts are converted again with the FLIR Planck law
  and atmospheric transmission model (:func:`thermalstream.sources.planck.raw_to_celsius`); the
  file's own object parameters are the defaults and the user's values override them.
* Sources that give °C on a linear scale (Lepton TLinear, TC001, the simulator, and counts
  sources once calibrated): see :func:`correct_linear`.
* Uncalibrated counts: the calibration (if any) makes them °C; without one they stay counts
  and the object parameters wait (they need °C to act on).
* Picture-only frames are left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from thermalstream.frame import Frame, Radiometry
from thermalstream.sources.base import CorruptData, Source, SourceInfo
from thermalstream.sources.planck import KELVIN, PlanckParams, atmospheric_transmission, raw_to_celsius

# Effective band of an LWIR (8–14 µm) microbolometer: Planck's second radiation constant over
# a 10 µm effective wavelength, c2 / λ = 14387.77 µm·K / 10 µm.
LWIR_B = 1438.777
# FLIR's usual two-band atmospheric transmission constants (alpha1, alpha2, beta1, beta2, X),
# used for sources whose files carry none.
DEFAULT_ATMOSPHERE = (0.006569, 0.01262, -0.002276, -0.00667, 1.9)
LUT_SIZE = 4096  # grid points of the linear-source correction on large frames
NEUTRAL = {"emissivity": 1.0, "reflected_c": 20.0, "atmosphere_c": 20.0, "humidity": 0.5, "distance_m": 0.0}
OBJECT_FIELDS = tuple(NEUTRAL)


class CalibrationPoint(BaseModel):
    """A reference reading: the sensor gave ``counts`` for a scene at ``celsius``."""

    model_config = ConfigDict(extra="forbid")
    counts: float = Field(ge=0, le=65535, allow_inf_nan=False)  # 16-bit sensor counts
    celsius: float = Field(gt=-KELVIN, le=2000, allow_inf_nan=False)


class Calibration(BaseModel):
    """``°C = a * counts + b``, given either as ``a`` and ``b`` or as two reference ``points``."""

    model_config = ConfigDict(extra="forbid")
    a: float | None = Field(default=None, ge=-100, le=100, allow_inf_nan=False)  # °C per count
    b: float | None = Field(default=None, ge=-100_000, le=100_000, allow_inf_nan=False)
    points: list[CalibrationPoint] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Calibration:
        linear = self.a is not None or self.b is not None
        if linear == (self.points is not None):
            raise ValueError("give either a and b (°C = a*counts + b) or two reference points, not both")
        if linear and (self.a is None or self.b is None):
            raise ValueError("a linear calibration needs both a and b")
        if linear and self.a is not None and abs(self.a) < 1e-6:
            raise ValueError("a must not be 0 (every count would give the same °C)")
        if self.points is not None:
            if len(self.points) != 2:
                raise ValueError(f"give exactly two reference points, got {len(self.points)}")
            p1, p2 = self.points
            if p1.counts == p2.counts:
                raise ValueError("the two reference points need different counts")
            if p1.celsius == p2.celsius:
                raise ValueError("the two reference points need different temperatures")
        return self

    def linear(self) -> tuple[float, float]:
        """(a, b) of ``°C = a * counts + b``."""
        if self.points is None:
            assert self.a is not None and self.b is not None
            return self.a, self.b
        p1, p2 = self.points
        a = (p2.celsius - p1.celsius) / (p2.counts - p1.counts)
        return a, p1.celsius - a * p1.counts

    def describe(self) -> str:
        a, b = self.linear()
        if self.points is None:
            return f"user linear calibration a={a:.6g}, b={b:.6g}"
        p1, p2 = self.points
        return (f"user two-point calibration {p1.counts:g} counts = {p1.celsius:g} °C, "
                f"{p2.counts:g} counts = {p2.celsius:g} °C (a={a:.6g}, b={b:.6g})")


class RadiometrySettings(BaseModel):
    """A camera's object parameters and calibration; None means "the source's own value"."""

    model_config = ConfigDict(extra="forbid")
    emissivity: float | None = Field(default=None, ge=0.01, le=1.0, allow_inf_nan=False)
    reflected_c: float | None = Field(default=None, gt=-KELVIN, le=2000, allow_inf_nan=False)
    atmosphere_c: float | None = Field(default=None, ge=-60, le=100, allow_inf_nan=False)
    humidity: float | None = Field(default=None, ge=0.0, le=1.0, allow_inf_nan=False,
                                   description="relative humidity as a fraction: 0.5 is 50 %")
    distance_m: float | None = Field(default=None, ge=0.0, le=100_000, allow_inf_nan=False)
    calibration: Calibration | None = None

    def overrides(self) -> dict[str, float]:
        """The object parameters the user set."""
        return {k: v for k in OBJECT_FIELDS if (v := getattr(self, k)) is not None}

    def is_empty(self) -> bool:
        return not self.overrides() and self.calibration is None


# ---------------------------------------------------------------- the physics


def band_radiance(t_c: np.ndarray | float) -> np.ndarray | float:
    """Relative LWIR band radiance of a black body at ``t_c`` °C: ``1 / (exp(B / T) - 1)``."""
    with np.errstate(over="ignore"):
        return 1.0 / np.expm1(LWIR_B / (np.asarray(t_c, np.float64) + KELVIN))


def correct_linear(apparent_c: np.ndarray, *, emissivity: float = 1.0, reflected_c: float = 20.0,
                   atmosphere_c: float = 20.0, humidity: float = 0.5, distance_m: float = 0.0) -> np.ndarray:
    """Object temperature (°C, float32) from the apparent (black-body, emissivity 1) temperatures
    a linear °C / kelvin x 100 source reports, by the radiance-domain correction.

    The camera sees ``W(T_app) = τ·ε·W(T_obj) + τ·(1-ε)·W(T_refl) + (1-τ)·W(T_atm)``, so
    ``W(T_obj) = (W(T_app) - τ·(1-ε)·W(T_refl) - (1-τ)·W(T_atm)) / (τ·ε)``, where ``W`` is the
    band radiance of :func:`band_radiance` (Planck's law at a 10 µm effective wavelength, the
    usual one-wavelength approximation of an 8–14 µm microbolometer) and ``τ`` FLIR's two-band
    atmospheric transmission over ``distance_m`` with :data:`DEFAULT_ATMOSPHERE`. It assumes the
    camera's own radiometry was set to emissivity 1 with no atmosphere (the factory default of
    Lepton TLinear and TC001). With ε = 1 and distance 0 it changes nothing.
    """
    p = PlanckParams(r1=1.0, r2=1.0, b=LWIR_B, f=1.0, o=0.0, atmosphere_c=atmosphere_c,
                     humidity=humidity, atmosphere=DEFAULT_ATMOSPHERE)
    tau = atmospheric_transmission(p, distance_m)
    if emissivity == 1.0 and tau == 1.0:
        return apparent_c.astype(np.float32, copy=False)
    args = (emissivity, reflected_c, atmosphere_c, tau)
    if apparent_c.size <= LUT_SIZE:
        return _correct(apparent_c, *args)
    # The correction is smooth and monotonic in T_app: evaluate it on a fine grid over the frame's
    # range and interpolate (7x cheaper on a 640x512 frame; interpolation error below 1e-4 °C).
    lo, hi = float(apparent_c.min()), float(apparent_c.max())
    hi = max(hi, lo + 1e-3)
    table = _correct(np.linspace(lo, hi, LUT_SIZE), *args).astype(np.float32)
    step = np.diff(table, append=table[-1])  # table[k + 1] - table[k]
    pos = (apparent_c - np.float32(lo)) * np.float32((LUT_SIZE - 1) / (hi - lo))
    i = np.clip(pos.astype(np.int32), 0, LUT_SIZE - 2)
    pos -= i  # the fraction between grid points, in place (float32)
    out = np.take(step, i)
    out *= pos
    out += np.take(table, i)
    return out


def _correct(apparent_c: np.ndarray, emissivity: float, reflected_c: float, atmosphere_c: float,
             tau: float) -> np.ndarray:
    w = band_radiance(apparent_c)
    w_obj = (w - tau * (1 - emissivity) * band_radiance(reflected_c) - (1 - tau) * band_radiance(atmosphere_c))
    w_obj = np.maximum(w_obj / (tau * emissivity), 1e-12)  # below the model's range: clamp
    return (LWIR_B / np.log1p(1.0 / w_obj) - KELVIN).astype(np.float32)


def _object_text(values: dict[str, float]) -> str:
    names = {"emissivity": "emissivity {:g}", "reflected_c": "reflected {:g} °C", "atmosphere_c": "atmosphere {:g} °C",
             "humidity": "humidity {:.0%}", "distance_m": "distance {:g} m"}
    return ", ".join(names[k].format(v) for k, v in values.items())


# ---------------------------------------------------------------- applying settings to frames


def apply(frame: Frame, settings: RadiometrySettings | None) -> Frame:
    """The frame with the camera's settings applied (the frame itself when nothing applies).
    Raises ValueError when the parameters give no finite temperatures."""
    if settings is None or settings.is_empty() or not frame.is_radiometric:
        return frame
    rad = frame.radiometry or Radiometry()
    if frame.celsius is None:  # uncalibrated counts
        if settings.calibration is None:
            return frame
        return _calibrate(frame, rad, settings)
    if isinstance(rad.law, PlanckParams) and frame.raw is not None:
        return _planck(frame, rad, settings)
    if settings.overrides():
        return _linear(frame, rad, settings, frame.celsius, rad.description)
    return frame


def _checked(celsius: np.ndarray) -> np.ndarray:
    if not np.isfinite(celsius).all():
        raise ValueError("the radiometric parameters give non-finite temperatures")
    return celsius


def _calibrate(frame: Frame, rad: Radiometry, s: RadiometrySettings) -> Frame:
    assert s.calibration is not None and frame.raw is not None
    a, b = s.calibration.linear()
    celsius = (frame.raw.astype(np.float32) * np.float32(a) + np.float32(b)).astype(np.float32)
    how = s.calibration.describe()
    rad = replace(rad, calibrated=True, unit_scale=a, unit_offset=b, description=how,
                  extra={**rad.extra, "source_unit": "counts"})
    image = frame.image if a > 0 else 255 - frame.image
    out = replace(frame, image=image, celsius=_checked(celsius), radiometry=rad)
    return _linear(out, rad, s, celsius, how) if s.overrides() else out


def _linear(frame: Frame, rad: Radiometry, s: RadiometrySettings, apparent: np.ndarray, how: str) -> Frame:
    values = {**NEUTRAL, **s.overrides()}
    celsius = _checked(correct_linear(apparent, **values))
    text = f"{how}; radiance-domain correction: {_object_text(s.overrides())}".lstrip("; ")
    rad = replace(rad, unit_scale=None, unit_offset=None, description=text,
                  extra={**rad.extra, "object_parameters": values})
    return replace(frame, celsius=celsius, radiometry=rad)


def _planck(frame: Frame, rad: Radiometry, s: RadiometrySettings) -> Frame:
    assert frame.raw is not None
    o = s.overrides()
    changes = {("distance" if k == "distance_m" else k): v for k, v in o.items()}
    p = replace(rad.law, **changes)
    celsius = _checked(raw_to_celsius(frame.raw, p))
    text = "FLIR Planck law, file object parameters" + (f"; user: {_object_text(o)}" if o else "")
    extra = {**rad.extra, "emissivity": p.emissivity, "reflected_c": p.reflected_c, "distance_m": p.distance,
             "atmosphere_c": p.atmosphere_c, "humidity": p.humidity}
    return replace(frame, celsius=celsius, radiometry=replace(rad, law=p, description=text, extra=extra))


class RadiometricSource(Source):
    """Wraps a camera's source so that every frame it reads carries the camera's current
    settings (``settings()`` is asked on every frame, so edits apply from the next frame)."""

    def __init__(self, inner: Source, settings: Callable[[], RadiometrySettings | None]) -> None:
        self.inner = inner
        self._settings = settings

    @property
    def info(self) -> SourceInfo:  # type: ignore[override]
        return self.inner.info

    def open(self) -> SourceInfo:
        return self.inner.open()

    def read(self) -> Frame:
        frame = self.inner.read()
        try:
            return apply(frame, self._settings())
        except ValueError as exc:
            raise CorruptData(f"radiometric parameters: {exc}") from None

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def law_key(frame: Frame) -> tuple:
    """What an HDF5 segment's attributes describe: the unit and the raw → °C law. The recorder
    starts a new segment when it changes (a user sets an emissivity or a calibration)."""
    rad = frame.radiometry or Radiometry()
    return frame.temperature_unit, rad.unit_scale, rad.unit_offset, rad.description


def summary(frame: Frame | None) -> dict:
    """What a camera's newest frame says about its unit, how its values were obtained, and the
    object parameters in effect (the file's or the user's; None while the values are counts)."""
    if frame is None:
        return {"temperature_unit": None, "calibrated": None, "description": "", "in_effect": None}
    rad = frame.radiometry
    return {"temperature_unit": frame.temperature_unit,
            "calibrated": None if rad is None else bool(rad.calibrated and frame.celsius is not None),
            "description": "" if rad is None else rad.description, "in_effect": in_effect(frame)}


def in_effect(frame: Frame) -> dict[str, float] | None:
    """The object parameters behind a frame's °C."""
    rad = frame.radiometry
    if frame.celsius is None or rad is None:
        return None
    if isinstance(rad.law, PlanckParams):
        p = rad.law
        return {"emissivity": p.emissivity, "reflected_c": p.reflected_c, "atmosphere_c": p.atmosphere_c,
                "humidity": p.humidity, "distance_m": p.distance}
    return dict(rad.extra.get("object_parameters") or NEUTRAL)


__all__ = ["Calibration", "CalibrationPoint", "RadiometricSource", "RadiometrySettings", "apply",
           "band_radiance", "correct_linear", "summary"]
