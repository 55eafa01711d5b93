"""One settings object, read from ``THERMALSTREAM_*`` environment variables and an optional ``.env``."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration. Works with no configuration at all.

    Everything the server writes (database, recordings, screenshots, caches) lives under
    ``data_dir`` unless a path is set explicitly, so two servers with different data
    directories and ports run side by side.
    """

    model_config = SettingsConfigDict(env_prefix="THERMALSTREAM_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("data/runtime"), description="Root of all state")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in data_dir")
    host: str = Field(default="127.0.0.1", description="Address the server binds to")
    port: int = Field(default=5006, description="HTTP port")
    cookie_secret: str | None = Field(default=None, description="Secret for signed cookies; generated and kept in data_dir")
    default_camera: str = Field(default="sim://?people=3", description="Camera added when the database has none ('' for none)")
    stall_timeout_s: float = Field(default=3.0, ge=0, description="A live camera with no frame for this long "
                                   "(at least 3 frame periods) reconnects; 0: never (files have no watchdog)")
    jpeg_quality: int = Field(default=80, ge=10, le=100)
    live_fps: float = Field(default=25.0, gt=0, description="Max fps sent to live viewers")
    model: Path = Field(default=Path("data/models/yolov8n.pt"), description="YOLO weights (detection issue)")
    media_dir: Path | None = Field(default=None, description="Video and thermal files that non-admins may add as "
                                   "camera sources must lie in this folder (default data_dir/media)")
    log_level: str = Field(default="INFO")

    # camera workers (thermalstream.workers)
    workers: Literal["inprocess", "processes", "ray"] = Field(
        default="inprocess", description="Where cameras run: threads in the server (inprocess), local worker "
        "processes (processes, all cores of this machine) or Ray actors (ray, several machines)")
    worker_processes: int | None = Field(default=None, ge=1, description="Local worker processes (default: CPU count)")
    opencv_threads: int = Field(default=1, ge=0, description="OpenCV's own threads per process (0: its default, one "
                                "per core). Cameras already run in parallel; on small frames OpenCV's pool costs more "
                                "CPU than it saves (the hotspot detector: 2.1 -> 1.4 ms CPU per 640x512 frame)")
    ray_address: str | None = Field(default=None, description="Ray cluster the workers run on (THERMALSTREAM_WORKERS="
                                    "ray): host:6379 of the head node, or 'auto'; unset: a Ray of its own on this machine")
    ray_workers: int | None = Field(default=None, ge=1, description="Ray actors for cameras without a pin "
                                    "(default: one per node at start)")
    ray_detectors: int = Field(default=0, ge=0, description="Ray actors that run the detector for every camera "
                               "worker (a GPU each share when the cluster has GPUs); 0: each worker loads its own")
    ray_pins: str = Field(default="", pattern=r"^\s*(\d+\s*=\s*[A-Za-z0-9_\-]+\s*(,\s*\d+\s*=\s*[A-Za-z0-9_\-]+\s*)*)?$",
                          description="Cameras pinned to the Ray node with a custom resource: '3=usb_lab_a,5=usb_lab_b' "
                          "(that node: ray start --resources='{\"usb_lab_a\": 1}')")

    # accounts and security
    production: bool = Field(default=False, description="Production mode: a cookie secret must be configured")
    admin_password: str | None = Field(default=None, description="Password of the first admin (else one is printed)")
    bcrypt_rounds: int = Field(default=12, ge=4, le=16)
    jwt_secret: str | None = Field(default=None, description="Signs API tokens (default: derived from the cookie secret)")
    access_token_ttl_s: int = Field(default=900, gt=0)
    refresh_token_ttl_s: int = Field(default=30 * 24 * 3600, gt=0)
    reset_token_ttl_s: int = Field(default=3600, gt=0)
    session_days: float = Field(default=1.0, gt=0, description="How long a browser login lasts")
    public_url: str | None = Field(default=None, description="Base URL in emailed links (default http://host:port)")
    trusted_proxies: str = Field(default="", description="Comma-separated proxies whose X-Forwarded-For is trusted")
    cors_origins: str = Field(default="", description="Comma-separated origins allowed to call the API (CORS off when empty)")
    metrics_token: str | None = Field(
        default=None, min_length=16,
        description="Bearer token Prometheus sends to GET /metrics (admins may always read it; unset: admins only)")
    credentials_key: str | None = Field(
        default=None, description="Fernet key sealing camera credentials in the database (default: data_dir/.credentials_key)")
    header_timeout_s: float = Field(default=10.0, gt=0, description="A client must send a request's headers within this "
                                    "(also how long an idle keep-alive connection is kept)")
    body_timeout_s: float = Field(default=60.0, gt=0, description="A client must send a request body within this")
    oauth_provider: str | None = Field(default=None, description="Panel OAuth provider (generic, github, azure, "
                                       "google, okta, auth0, gitlab…); the PANEL_OAUTH_* variables configure it")
    oauth_key: str | None = Field(default=None, description="OAuth client id")
    oauth_secret: str | None = Field(default=None, description="OAuth client secret")
    oauth_default_role: Literal["viewer", "operator", "admin"] = Field(
        default="viewer", description="Role of users created on their first OAuth login")
    smtp_host: str | None = Field(default=None, description="SMTP server (mail off when unset)")
    smtp_port: int = Field(default=587)
    smtp_security: Literal["starttls", "tls", "none"] = Field(default="starttls")
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_sender: str = Field(default="ThermalStream <thermalstream@localhost>")
    smtp_timeout_s: float = Field(default=15.0, gt=0)

    # recording
    record_segment_seconds: float = Field(default=10.0, gt=0, description="Length of each video segment")
    record_preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium"] = Field(
        default="veryfast", description="libx264 preset")
    record_crf: int = Field(default=23, ge=0, le=51, description="libx264 quality (lower is better)")
    record_container: Literal["fragmented", "faststart"] = Field(default="fragmented", description="MP4 layout")
    record_radiometric: bool = Field(default=True, description="Lossless HDF5 °C/raw beside the video")
    record_h5_compression: Literal["lzf", "gzip", "none"] = Field(
        default="gzip", description="HDF5 compression (gzip: readable by every HDF5 tool; lzf: h5py only)")
    record_reserve_mb: int = Field(default=256, ge=0, description="Free disk space recording keeps in reserve")

    # storage retention (cleanup deletes the oldest unprotected segments first)
    retention_max_age_days: float | None = Field(default=30.0, gt=0, description="Delete footage older than this")
    retention_max_total_gb: float | None = Field(default=None, gt=0, description="Cap on recordings' total size")
    retention_min_free_gb: float | None = Field(default=1.0, ge=0, description="Free disk space to keep")
    cleanup_interval_s: int = Field(default=300, ge=10, description="How often retention runs")
    storage_sample_interval_s: int = Field(default=900, ge=10, description="How often disk usage is sampled")

    # detection
    detector: Literal["yolo", "hotspot", "none"] = Field(default="yolo", description="Detector for all cameras")
    detect_backend: Literal["auto", "openvino", "onnx", "torch"] = Field(default="auto")
    detect_device: Literal["auto", "cpu", "gpu"] = Field(
        default="auto", description="Where YOLO computes: auto (a GPU where a runtime can use one), cpu, or gpu only")
    detect_conf: float = Field(default=0.4, ge=0, le=1, description="Minimum detector confidence")
    hotspot_threshold_c: float | None = Field(default=None, description="Hotspot: also above this absolute °C")
    hotspot_delta_c: float | None = Field(
        default=None, gt=0, description="Hotspot: also this many °C above the background (None: from the sensor noise)")

    # measurement regions (ROIs) and alarms
    roi_sample_hz: float = Field(default=1.0, gt=0, le=25, description="ROI samples stored per second")
    roi_raw_retention_days: float = Field(default=7.0, gt=0, description="Raw ROI samples are kept this long")
    roi_minute_retention_days: float | None = Field(
        default=365.0, gt=0, description="Per-minute ROI aggregates are kept this long (None: for ever)")

    # webhooks (thermalstream/integrations/webhooks.py, docs/webhooks.md)
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=300,
                                     description="Webhook attempts: seconds to connect and for each read")
    webhook_max_attempts: int = Field(default=5, ge=1, le=20, description="Attempts per event, the first included")
    webhook_retry_base_s: float = Field(default=2.0, gt=0, description="First webhook retry delay (before jitter)")
    webhook_retry_cap_s: float = Field(default=300.0, gt=0, description="Longest webhook retry delay")
    webhook_log_keep: int = Field(default=500, ge=10, le=100000, description="Delivery attempts kept per webhook")

    # MQTT / Home Assistant (thermalstream/integrations/mqtt.py, docs/mqtt.md)
    mqtt_url: str | None = Field(default=None, description="MQTT broker, mqtt://user:pass@host:port or mqtts://… "
                                 "(MQTT off when unset)")
    mqtt_topic_prefix: str = Field(default="thermalstream", pattern=r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*$",
                                   description="First level(s) of every topic this server publishes")
    mqtt_client_id: str | None = Field(default=None, max_length=64,
                                       description="MQTT client id (default thermalstream-<host>-<port>)")
    mqtt_discovery_prefix: str | None = Field(
        default="homeassistant", description="Home Assistant MQTT discovery prefix ('' or None: no discovery)")
    mqtt_commands: Literal["off", "token", "broker"] = Field(
        default="off", description="Commands over MQTT (detection on/off, record start/stop): off; token (also "
        "true): each carries an API access token; broker: the broker's ACL decides who may publish them and they "
        "run as mqtt_command_user")
    mqtt_command_user: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9._@-]{0,63}$",
                                          description="The account MQTT commands run as when mqtt_commands=broker "
                                          "(checked at each command: its current role and cameras)")

    @field_validator("mqtt_commands", mode="before")
    @classmethod
    def _commands_mode(cls, value: object) -> object:
        """true/false (the setting's old form) mean token/off; words in any case."""
        if isinstance(value, bool):
            return "token" if value else "off"
        if isinstance(value, str):
            word = value.strip().lower()
            return {"true": "token", "1": "token", "yes": "token", "on": "token",
                    "false": "off", "0": "off", "no": "off", "": "off"}.get(word, word)
        return value

    @model_validator(mode="after")
    def _command_user_needed(self) -> Settings:
        if self.mqtt_commands == "broker" and not self.mqtt_command_user:
            raise ValueError("THERMALSTREAM_MQTT_COMMANDS=broker needs THERMALSTREAM_MQTT_COMMAND_USER: "
                             "the account (an operator) that commands run as")
        return self

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'thermalstream.db').resolve()}"

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"

    @property
    def screenshots_dir(self) -> Path:
        return self.data_dir / "screenshots"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def media_root(self) -> Path:
        """The folder file sources must lie in, unless an admin adds them (``media_dir``)."""
        return self.media_dir or self.data_dir / "media"

    @property
    def archive_dir(self) -> Path:
        """Media of deleted cameras kept by the admin's choice (served by no route)."""
        return self.data_dir / "archive"

    @property
    def worker_count(self) -> int:
        """How many local worker processes the ``processes`` backend runs."""
        return self.worker_processes or os.cpu_count() or 1

    @property
    def opencv_pool(self) -> int:
        """``opencv_threads`` as ``cv2.setNumThreads`` takes it (-1: OpenCV's default)."""
        return self.opencv_threads or -1

    def ensure_dirs(self) -> None:
        for d in (self.data_dir, self.recordings_dir, self.screenshots_dir, self.cache_dir):
            d.mkdir(parents=True, exist_ok=True)

    def secret(self) -> str:
        """The cookie secret: configured, or generated once and kept in ``data_dir`` (refused in
        production mode, where a generated secret could silently change between machines)."""
        if self.cookie_secret:
            if len(self.cookie_secret) < 32:
                raise ValueError("THERMALSTREAM_COOKIE_SECRET must be at least 32 characters")
            return self.cookie_secret
        if self.production:
            raise ValueError("THERMALSTREAM_COOKIE_SECRET is required when THERMALSTREAM_PRODUCTION is set")
        path = self.data_dir / ".cookie_secret"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    def sealing_key(self) -> str:
        """The Fernet key that seals camera credentials in the database: configured
        (THERMALSTREAM_CREDENTIALS_KEY), or generated once and kept beside the cookie secret
        (``data_dir/.credentials_key``, 0600). Losing it makes stored camera passwords unreadable."""
        if self.credentials_key:
            return self.credentials_key
        path = self.data_dir / ".credentials_key"
        if not path.exists():
            from cryptography.fernet import Fernet

            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(Fernet.generate_key().decode())
        return path.read_text().strip()


def get_settings(**overrides) -> Settings:
    """A fresh settings object (no module-level singleton: tests and workers make their own)."""
    return Settings(**overrides)
