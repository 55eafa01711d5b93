"""Accounts and security core: passwords, users and roles, API tokens, password reset, mail,
rate limits. No web framework here: ``app/`` builds login pages and route checks on top.

=================  ======================================================================
``passwords``      bcrypt (SHA-256 pre-hash), policy, dummy verify for unknown users
``roles``          admin > operator > viewer, ``role_at_least``
``users``          :class:`UserService`: create, authenticate (+ lockout), roles, reset, first admin
``tokens``         :class:`TokenService`: JWT access tokens, rotated refresh tokens
``reset``          :class:`ResetService`: reset tokens mailed as links
``mail``           :class:`Mailer`: SMTP in a background thread, Jinja2 templates
``ratelimit``      :class:`RateLimiter` (counters in the database), ``client_ip``
``service``        :class:`Auth`: all of the above wired from settings
``cli``            ``thermalstream users ...``
=================  ======================================================================
"""

from __future__ import annotations

from thermalstream.auth.errors import (
    AuthError,
    AuthValueError,
    InvalidEmail,
    InvalidResetToken,
    InvalidRole,
    InvalidUsername,
    LastAdmin,
    RateLimited,
    UserExists,
    UserNotFound,
    WeakPassword,
)
from thermalstream.auth.mail import MailConfig, Mailer
from thermalstream.auth.passwords import PasswordHasher, check_policy, generate_password
from thermalstream.auth.ratelimit import Decision, Limit, RateLimiter, client_ip, parse_trusted_proxies
from thermalstream.auth.reset import ResetService
from thermalstream.auth.roles import RANK, check_role, role_at_least
from thermalstream.auth.service import Auth
from thermalstream.auth.tokens import TokenService
from thermalstream.auth.user_data import user_dict, validate_email, validate_username
from thermalstream.auth.users import UserService

__all__ = [
    "RANK", "Auth", "AuthError", "AuthValueError", "Decision", "InvalidEmail", "InvalidResetToken", "InvalidRole",
    "InvalidUsername", "LastAdmin", "Limit", "MailConfig", "Mailer", "PasswordHasher", "RateLimited",
    "RateLimiter", "ResetService", "TokenService", "UserExists", "UserNotFound", "UserService", "WeakPassword",
    "check_policy", "check_role", "client_ip", "generate_password", "parse_trusted_proxies", "role_at_least",
    "user_dict", "validate_email", "validate_username",
]
