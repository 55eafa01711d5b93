"""Who may see a camera: its owner, its shares (users and roles) and admins; the one visibility rule.

A camera with no shares is seen by every signed-in user. Once shared, only its owner, the users
and roles it is shared with (a role share includes higher roles) and admins see it. Only the
owner or an admin may change the shares. :class:`CameraSharing` is mixed into
:class:`~thermalstream.cameras.CameraService`, which supplies ``db`` and ``manager`` (its bus).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from thermalstream.db import CameraShare, User, repo

ROLE_ORDER = ("viewer", "operator", "admin")


class CameraNotFound(LookupError):
    pass


class ShareError(ValueError):
    """A share names no user or role (the message says which)."""


class CameraSharing:
    db: Any
    manager: Any

    def visible_ids(self, user_id: int, role: str) -> set[int] | None:
        """The cameras a user may see; None means all (admins). A camera without shares is visible
        to every signed-in user; once shared, only its owner, the users and roles it is shared with
        (a role share includes higher roles) and admins see it."""
        if role == "admin":
            return None
        rank = {"viewer": 0, "operator": 1, "admin": 2}
        with self.db.session() as s:
            cams = {c.id: c.owner_id for c in repo.list_cameras(s)}
            shares: dict[int, list[CameraShare]] = {}
            for sh in s.scalars(select(CameraShare)):
                shares.setdefault(sh.camera_id, []).append(sh)
        out = set()
        for cid, owner in cams.items():
            mine = shares.get(cid)
            if not mine or owner == user_id or any(
                sh.user_id == user_id or (sh.role is not None and rank.get(role, -1) >= rank[sh.role]) for sh in mine
            ):
                out.add(cid)
        return out

    def may_manage(self, camera_id: int, user_id: int, role: str) -> bool:
        """Whether a user may change a camera's sharing: its owner or an admin."""
        if role == "admin":
            return True
        with self.db.session() as s:
            cam = repo.get_camera(s, camera_id)
            return cam is not None and cam.owner_id is not None and cam.owner_id == user_id

    def shares(self, camera_id: int) -> dict[str, Any]:
        """Who a camera is shared with: ``{camera_id, owner, private, users: [{id, username}], roles}``.
        Not private (no shares): every signed-in user sees it."""
        with self.db.session() as s:
            cam = repo.get_camera(s, camera_id)
            if cam is None:
                raise CameraNotFound(f"no camera {camera_id}")
            rows = list(s.scalars(select(CameraShare).where(CameraShare.camera_id == camera_id)))
            names = {u.id: u.username for u in s.scalars(select(User))}
            owner = {"id": cam.owner_id, "username": names.get(cam.owner_id)} if cam.owner_id else None
        users = sorted({r.user_id for r in rows if r.user_id is not None})
        return {"camera_id": camera_id, "owner": owner, "private": bool(rows),
                "users": [{"id": u, "username": names.get(u)} for u in users],
                "roles": sorted({r.role for r in rows if r.role is not None}, key=ROLE_ORDER.index)}

    def set_shares(self, camera_id: int, users: list[int | str], roles: list[str]) -> dict[str, Any]:
        """Replace a camera's shares: these users (ids or usernames) and roles see it, besides its
        owner and admins. Both empty: the camera is public again. ShareError names an unknown user."""
        bad = [r for r in roles if r not in ROLE_ORDER]
        if bad:
            raise ShareError(f"unknown role(s): {', '.join(map(str, bad))}; use {', '.join(ROLE_ORDER)}")
        with self.db.session() as s:
            if repo.get_camera(s, camera_id) is None:
                raise CameraNotFound(f"no camera {camera_id}")
            ids = set()
            for ref in users:
                q = select(User.id).where(User.id == ref if isinstance(ref, int) else User.username == str(ref).lower())
                uid = s.scalar(q)
                if uid is None:
                    raise ShareError(f"no user {str(ref)[:64]!r}")
                ids.add(uid)
            s.query(CameraShare).filter(CameraShare.camera_id == camera_id).delete()
        for uid in sorted(ids):
            self.share(camera_id, user_id=uid)
        for role in sorted(set(roles)):
            self.share(camera_id, role=role)
        self.manager.bus.publish("camera.shares", {"camera_id": camera_id})  # open live views re-check
        return self.shares(camera_id)

    def share(self, camera_id: int, *, user_id: int | None = None, role: str | None = None) -> None:
        """Share a camera with one user or with a role (which makes it private to its shares)."""
        with self.db.session() as s:
            if repo.get_camera(s, camera_id) is None:
                raise CameraNotFound(f"no camera {camera_id}")
            s.add(CameraShare(camera_id=camera_id, user_id=user_id, role=role))
