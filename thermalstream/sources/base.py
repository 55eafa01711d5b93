"""The source interface every camera driver implements, and its errors."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass

from thermalstream.frame import Frame


class SourceError(Exception):
    """A camera or file could not be opened or read. The message is safe to show users
    (it never contains credentials)."""


class SourceClosed(SourceError):
    """The source has no more frames (end of a file) or was closed."""


class CorruptData(SourceError):
    """The source sent data that is not what it claimed to be (garbage, truncated file)."""


@dataclass(frozen=True)
class SourceInfo:
    """What a source is, known once it is open."""

    kind: str  # "sim", "opencv", "snapshot", "lepton", "topdon", "cptv", "flir-seq", ...
    width: int
    height: int
    fps: float | None
    radiometric: bool
    live: bool = True  # False for files (finite)
    description: str = ""


class Source(abc.ABC):
    """A blocking frame producer. ``read()`` returns the next frame or raises
    :class:`SourceError`/:class:`SourceClosed`. Sources are used from one thread at a
    time (the camera's capture thread); ``close()`` may be called from another."""

    info: SourceInfo

    @abc.abstractmethod
    def open(self) -> SourceInfo:
        """Connect/open; raise SourceError with a clear message on failure."""

    @abc.abstractmethod
    def read(self) -> Frame:
        """Block until the next frame is available (live sources pace themselves)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the device/connection. Idempotent."""

    def __iter__(self) -> Iterator[Frame]:
        """Every frame until the end of a file (or until the source is closed): ``for f in src``."""
        while True:
            try:
                yield self.read()
            except SourceClosed:
                return

    def __enter__(self) -> "Source":
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()
