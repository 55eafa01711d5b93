"""Data on disk is private to the server's user: folders 0700, files 0600.

The database holds camera addresses and account data, and recordings may be private, so nothing
under ``data_dir`` is readable by other local users. :func:`protect_data_dir` runs at start: it
sets the process umask (so every file and folder made later is private, FFmpeg's and HDF5's
too), closes the data folder, and tightens the files at its top (database, WAL, secrets).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)
UMASK = 0o077


def protect_data_dir(data_dir: Path) -> None:
    """Make ``data_dir`` and its top-level files private (0700/0600) and new files private too."""
    os.umask(UMASK)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    _chmod(data_dir, 0o700)
    for entry in data_dir.iterdir():
        if entry.is_symlink():
            continue
        _chmod(entry, 0o700 if entry.is_dir() else 0o600)


def _chmod(path: Path, mode: int) -> None:
    try:
        if stat.S_IMODE(path.stat().st_mode) != mode:
            path.chmod(mode)
    except OSError as exc:  # not ours (a mounted share): say so, keep running
        log.warning("cannot make %s private (%s): %s", path, oct(mode), exc)
