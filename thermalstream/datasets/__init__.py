"""Research data: recordings, detections and events as Python objects and DataFrames, for notebooks
and scripts, read from the same database and folders the server writes."""

from thermalstream.datasets.locate import DataNotFound, locate, open_database
from thermalstream.datasets.recording import RecordingData

__all__ = ["DataNotFound", "RecordingData", "locate", "open_database"]
