"""Path safety for everything the storage code deletes.

Every path that comes from the database (or anywhere else) is resolved — ``..`` collapsed,
symbolic links followed — and must land strictly inside its storage root. Anything else is
refused with :class:`StoragePathError`; the caller logs it and leaves the file alone.
"""

from __future__ import annotations

import os
from pathlib import Path


class StoragePathError(ValueError):
    """A path that is not strictly inside its storage root (or is a link, or not a regular file)."""


def resolve_root(root: str | os.PathLike[str]) -> Path:
    return Path(root).expanduser().resolve()


def is_within(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> bool:
    """True when ``path``, fully resolved, is strictly below ``root`` (resolved); the root itself is not."""
    r = resolve_root(root)
    p = Path(path).expanduser().resolve()
    return p != r and p.is_relative_to(r)


def safe_path(root: str | os.PathLike[str], rel: str | os.PathLike[str]) -> Path:
    """``root / rel`` resolved, or :class:`StoragePathError` if it leaves ``root``.

    ``rel`` may be relative (the usual case: paths in rows are relative to the root) or absolute
    (then it must still point inside the root). ``..`` and symbolic links are resolved before the
    check, so ``../x`` or a link to ``/etc`` are refused.
    """
    if rel is None or str(rel) == "":
        raise StoragePathError("empty path")
    if "\x00" in str(rel):
        raise StoragePathError("path contains a NUL byte")
    r = resolve_root(root)
    candidate = Path(rel).expanduser()
    if not candidate.is_absolute():
        candidate = r / candidate
    resolved = candidate.resolve()
    if resolved == r or not resolved.is_relative_to(r):
        raise StoragePathError(f"{str(rel)!r} is outside the storage root {str(r)!r}")
    return resolved


def safe_file_to_delete(root: str | os.PathLike[str], rel: str | os.PathLike[str]) -> Path | None:
    """The resolved path of a regular file under ``root`` that may be deleted, or None if it is gone.

    Refuses (``StoragePathError``) a path outside the root, a path whose last component is a
    symbolic link (recordings are never links; deleting a link's target could remove another
    file) and anything that is not a regular file.
    """
    r = resolve_root(root)
    lexical = Path(rel).expanduser()
    if not lexical.is_absolute():
        lexical = r / lexical
    resolved = safe_path(r, rel)
    # The link check is on the unresolved name (its parent resolved): resolve() already followed it.
    parent = lexical.parent.resolve()
    if parent != r and not parent.is_relative_to(r):
        raise StoragePathError(f"{str(rel)!r} is outside the storage root {str(r)!r}")
    named = parent / lexical.name
    if named.is_symlink():
        raise StoragePathError(f"{str(rel)!r} is a symbolic link; links are never deleted")
    if not resolved.exists():
        return None
    if not resolved.is_file():
        raise StoragePathError(f"{str(rel)!r} is not a regular file")
    return resolved
