"""Recording: H.264 MP4 segments (video), lossless radiometric HDF5 (radiometric), the per-camera
recorder thread (recorder) and the recording service with its database rows (service)."""

from thermalstream.record.radiometric import (
    RadiometricData,
    RadiometricOptions,
    RadiometricWriter,
    read_radiometric,
)
from thermalstream.record.recorder import Recorder
from thermalstream.record.segments import DiskFull, Gap, RecorderError, RecorderResult, Segment
from thermalstream.record.video import ProbeResult, SegmentWriter, VideoOptions, probe_segment

__all__ = [
    "DiskFull", "Gap", "ProbeResult", "RadiometricData", "RadiometricOptions", "RadiometricWriter", "Recorder",
    "RecorderError", "RecorderResult", "Segment", "SegmentWriter", "VideoOptions", "probe_segment", "read_radiometric",
]
from thermalstream.record.service import (
    RecordingConfig,
    RecordingConflict,
    RecordingError,
    RecordingNotFound,
    RecordingService,
    StorageFull,
)

__all__ += ["RecordingConfig", "RecordingConflict", "RecordingError", "RecordingNotFound", "RecordingService",
            "StorageFull"]
