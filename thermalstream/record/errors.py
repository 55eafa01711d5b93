"""The recording service's errors (HTTP status in each docstring)."""

from __future__ import annotations


class RecordingError(Exception):
    """Base of the recording service's errors."""


class RecordingConflict(RecordingError):
    """The camera's state forbids the request (not connected, already recording, not recording): HTTP 409."""


class StorageFull(RecordingConflict):
    """Not enough free disk space to start (below the reserve): HTTP 507, or 409 like any conflict."""


class RecordingNotFound(RecordingError, LookupError):
    """No such recording: HTTP 404."""
