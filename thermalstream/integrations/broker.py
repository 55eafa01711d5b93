"""Where the MQTT bridge connects (``THERMALSTREAM_MQTT_URL``) and the topics it uses (docs/mqtt.md)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @property
    def shown(self) -> str:
        """The broker without its password (for /health and logs)."""
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


def parse_broker_url(url: str) -> Broker:
    """``mqtt://[user[:pass]@]host[:port]`` (1883) or ``mqtts://…`` (TLS, 8883); ValueError says what is wrong."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ValueError(f"THERMALSTREAM_MQTT_URL must start with mqtt:// or mqtts://, not {parts.scheme or '?'}://")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("THERMALSTREAM_MQTT_URL has an invalid port") from None
    if not parts.hostname:
        raise ValueError("THERMALSTREAM_MQTT_URL names no host")
    tls = parts.scheme == "mqtts"
    return Broker(parts.hostname, port or (8883 if tls else 1883), unquote(parts.username) if parts.username else None,
                  unquote(parts.password) if parts.password is not None else None, tls)


class Topics:
    """Every topic under the prefix (see docs/mqtt.md)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix.strip("/")
        self.availability = f"{self.prefix}/availability"
        self.commands = f"{self.prefix}/cameras/+/command"

    def camera(self, camera_id: int, leaf: str) -> str:
        return f"{self.prefix}/cameras/{camera_id}/{leaf}"

    def command_camera(self, topic: str) -> int | None:
        """The camera id of a command topic, or None."""
        head, _, rest = topic.partition(f"{self.prefix}/cameras/")
        cid, _, leaf = rest.partition("/")
        return int(cid) if not head and leaf == "command" and cid.isdigit() and len(cid) < 10 else None


__all__ = ["Broker", "Topics", "parse_broker_url"]
