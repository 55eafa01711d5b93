"""Users arriving through OAuth (Panel's providers) get an account with the default role."""

from __future__ import annotations

from app.auth import oauth_options, principal_named
from thermalstream.config import Settings
from thermalstream.runtime import Runtime


def make_runtime(tmp_path, **kw) -> Runtime:
    return Runtime.create(Settings(data_dir=tmp_path, default_camera="", detector="none", bcrypt_rounds=4,
                                   admin_password="correct horse battery staple", **kw))


def test_oauth_user_is_provisioned_as_viewer_once(tmp_path):
    rt = make_runtime(tmp_path, oauth_provider="generic", oauth_key="client", oauth_secret="s3cret")
    try:
        assert oauth_options(rt) == {"oauth_provider": "generic", "oauth_key": "client", "oauth_secret": "s3cret"}
        p = principal_named(rt, "dana", "cookie")
        assert p is not None and p.role == "viewer"
        assert rt.auth.users.get("dana")["has_password"] is False  # no password login for OAuth users
        assert principal_named(rt, "dana", "cookie").user_id == p.user_id
        assert principal_named(rt, "bad name with spaces!", "cookie") is None  # invalid names are refused
    finally:
        rt.shutdown()


def test_unknown_users_are_not_created_without_oauth(tmp_path):
    rt = make_runtime(tmp_path)
    try:
        assert oauth_options(rt) == {}
        assert principal_named(rt, "dana", "cookie") is None
        assert rt.auth.users.get("dana") is None
    finally:
        rt.shutdown()
