"""FLIR's radiometric model: raw counts to object temperature.

The Planck law with emissivity, reflected apparent temperature, IR window and atmospheric
transmission, in the formulation of Thermimage's ``raw2temp`` (also used by flirpy and flyr),
which assumes the IR window half-way between object and camera: the atmosphere is modelled as
two paths of distance/2. Used for FLIR files (:mod:`.flir`) and for per-camera parameters of
linear sources (:mod:`thermalstream.radiometry`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

KELVIN = 273.15


@dataclass(frozen=True)
class PlanckParams:
    """Calibration and object parameters for :func:`raw_to_celsius`.

    Temperatures in °C, distance in metres, humidity as a 0..1 fraction.
    ``atmosphere`` is (alpha1, alpha2, beta1, beta2, X), or None for no atmospheric loss.
    """

    r1: float
    r2: float
    b: float
    f: float
    o: float
    emissivity: float = 1.0
    distance: float = 0.0
    reflected_c: float = 20.0
    atmosphere_c: float = 20.0
    window_c: float = 20.0
    window_transmission: float = 1.0
    humidity: float = 0.5
    atmosphere: tuple[float, float, float, float, float] | None = None



def planck_raw(t_c: float, p: PlanckParams) -> float:
    """Raw counts a black body at ``t_c`` °C would give."""
    return p.r1 / (p.r2 * (math.exp(p.b / (t_c + KELVIN)) - p.f)) - p.o


def atmospheric_transmission(p: PlanckParams, distance: float) -> float:
    """FLIR's two-band transmission model over ``distance`` metres (1.0 without parameters)."""
    if p.atmosphere is None or distance <= 0:
        return 1.0
    a1, a2, b1, b2, x = p.atmosphere
    t = p.atmosphere_c
    h2o = p.humidity * math.exp(1.5587 + 0.06939 * t - 0.00027816 * t**2 + 0.00000068455 * t**3)
    s, w = math.sqrt(distance), math.sqrt(h2o)
    return x * math.exp(-s * (a1 + b1 * w)) + (1 - x) * math.exp(-s * (a2 + b2 * w))


def raw_to_celsius(raw: np.ndarray, p: PlanckParams) -> np.ndarray:
    """Object temperature in °C (float32) from raw counts, compensating emissivity,
    reflection, IR window and atmosphere (window assumed at distance/2)."""
    e, win = p.emissivity, p.window_transmission
    try:
        tau = atmospheric_transmission(p, p.distance / 2)
        atm, refl, wind = (planck_raw(t, p) for t in (p.atmosphere_c, p.reflected_c, p.window_c))
    except (OverflowError, ZeroDivisionError, ValueError) as exc:
        raise ValueError(f"parameters out of the model's range ({exc})") from None
    if not (0 < e <= 1 and 0 < win <= 1 and tau > 0):
        raise ValueError(f"bad parameters: emissivity {e}, window {win}, transmission {tau}")
    gain = 1.0 / (e * tau * win * tau)
    offset = (
        (1 - e) / e * refl
        + (1 - tau) / (e * tau) * atm
        + (1 - win) / (e * tau * win) * wind
        + (1 - tau) * gain * atm
    )
    with np.errstate(all="ignore"):  # callers check np.isfinite on garbage parameters
        obj = raw.astype(np.float64) * gain - offset + p.o
        obj = np.maximum(obj, 1e-6)  # below the model's range: clamp instead of NaN
        return (p.b / np.log(p.r1 / (p.r2 * obj) + p.f) - KELVIN).astype(np.float32)
