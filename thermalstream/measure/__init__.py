"""Measurement layer: ROI statistics, alarm rules and ROI time series (no Panel; notebooks and server)."""

from thermalstream.measure.alarms import AlarmEngine, Change, FFCGuard, Rule, RuleError
from thermalstream.measure.geometry import Roi, RoiError, RoiSet, RoiStats, frame_stats, validate

__all__ = ["AlarmEngine", "Change", "FFCGuard", "Roi", "RoiError", "RoiSet", "RoiStats", "Rule", "RuleError",
           "frame_stats", "validate"]
