"""A camera's files: file sources kept inside the server's media folder, and what happens to a
deleted camera's recordings and screenshots (archived or deleted; orphans archived at start).

:class:`CameraFiles` is mixed into :class:`~thermalstream.cameras.CameraService`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from thermalstream.capture.manager import CameraManager
from thermalstream.db import Database, repo
from thermalstream.notifications import NotificationService
from thermalstream.radiometry import RadiometrySettings
from thermalstream.sharing import CameraNotFound
from thermalstream.sources import SourceError, make_source
from thermalstream.sources.url import CameraURL, CameraURLError
from thermalstream.storage.media import MEDIA_CHOICES, media_camera_ids, remove_camera_media
from thermalstream.storage.paths import StoragePathError, safe_path
from thermalstream.storage.usage import storage_roots

log = logging.getLogger(__name__)


def in_media_folder(cu: CameraURL, media_root: Path) -> str:
    """The URL of a file source with a relative plain path (``clips/yard.mp4?loop=1``) made
    absolute inside the media folder; any other URL as it is."""
    if cu.raw.startswith("file:") or cu.path is None or cu.path.expanduser().is_absolute():
        return cu.raw
    path, sep, query = cu.raw.partition("?")
    return f"{media_root.resolve() / path}{sep}{query}"


def media_file(cu: CameraURL, media_root: Path) -> None:
    """Refuse a file source outside the media folder. The message is the same whether or not the
    file exists and never names folders outside, so it cannot be used to probe the file system."""
    try:
        path = safe_path(media_root, cu.path.expanduser().resolve())  # type: ignore[union-attr]
    except (StoragePathError, OSError):
        raise CameraURLError("file sources must lie in the server's media folder: ask an admin to put the file "
                             "there (or to add it)") from None
    if not path.is_file():
        raise CameraURLError(f"file not found in the media folder: {path.relative_to(media_root.resolve())}")


def probe_file(url: CameraURL) -> None:
    """Open a file source and read one frame, so a bad file is refused at once with a clear reason."""
    src = make_source(url)
    try:
        src.open()
        src.read()
    except SourceError as exc:
        raise CameraURLError(str(exc)) from None
    finally:
        src.close()


class CameraFiles:
    """Deleting a camera with its files, orphaned files, the media folder of file sources."""

    db: Database
    manager: CameraManager
    notes: NotificationService
    settings: Any
    _palettes: dict[int, str]
    _radiometry: dict[int, RadiometrySettings]

    def delete(self, camera_id: int, media: str = "archive") -> dict[str, Any] | None:
        """Stop and delete a camera; its files are archived or deleted (``media``, see
        :mod:`thermalstream.storage.media`). Returns what happened to the files (None: no settings)."""
        if media not in MEDIA_CHOICES:
            raise CameraURLError(f"media must be one of {', '.join(MEDIA_CHOICES)}, got {media!r}")
        if camera_id in self.manager:
            self.manager.remove(camera_id)
            self.manager.bus.publish("camera.removed", {"camera_id": camera_id})
        with self.db.session() as s:
            name = getattr(repo.get_camera(s, camera_id), "name", None)
            if not repo.delete_camera(s, camera_id):
                raise CameraNotFound(f"no camera {camera_id}")
        self._palettes.pop(camera_id, None)
        self._radiometry.pop(camera_id, None)
        files = self._remove_media(camera_id, media, name or str(camera_id))
        self.notes.info("Camera removed", (name or str(camera_id)) + _files_text(files), data={"camera_id": camera_id})
        return files

    def archive_orphan_media(self) -> list[int]:
        """Archive the folders of cameras that no longer exist (deleted before their files went with
        them), so that no later camera can own them. Returns their ids; admins get a notification."""
        if self.settings is None:
            return []
        roots = storage_roots(self.settings)
        with self.db.session() as s:
            known = {c.id for c in repo.list_cameras(s)}
        orphans = sorted(media_camera_ids(roots) - known)
        for cid in orphans:
            try:
                remove_camera_media(roots, self.settings.archive_dir, cid, "archive")
            except OSError:
                log.exception("files of deleted camera %s could not be archived", cid)
        if orphans:
            self._tell_admins("warning", "Files of deleted cameras archived",
                              f"camera id(s) {', '.join(map(str, orphans))} no longer exist but had files; "
                              f"they were moved to {self.settings.archive_dir.name}/ (admins only)")
        return orphans

    def _tell_admins(self, kind: str, title: str, message: str) -> None:
        """A notification for each admin only (it names files or deleted cameras)."""
        self.notes.to_admins(kind, title, message)

    def _remove_media(self, camera_id: int, media: str, name: str) -> dict[str, Any] | None:
        if self.settings is None:
            return None
        try:
            return remove_camera_media(storage_roots(self.settings), self.settings.archive_dir, camera_id, media)
        except OSError as exc:  # the camera is gone; its files stay where they are, and the admin is told
            log.exception("files of deleted camera %s not %sd", camera_id, media)
            self._tell_admins("error", "Camera files left in place", f"{name}: could not {media} its files ({exc})")
            return {"media": "failed", "error": str(exc)}

    def _media_root(self) -> Path:
        if self.settings is None:
            raise CameraURLError("file sources need a media folder (no settings)")
        return Path(self.settings.media_root)


def _files_text(files: dict[str, Any] | None) -> str:
    if not files or files["media"] == "failed":
        return ""
    if not files["folders"]:
        return "; it had no files"
    if files["media"] == "delete":
        return f"; its files were deleted ({files['bytes']} bytes)"
    return f"; its files ({files['bytes']} bytes) were archived in {Path(files['archive']).name} (admins only)"
