"""Settings of the web server: read once from ``CITEQA_*`` variables, with the ``serve`` flags on top."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from citeqa.errors import SettingError

DEFAULT_MAX_BODY_BYTES = 64 * 1024
DEFAULT_QUEUE_SIZE = 64  # questions waiting at once (chat and API); more are refused as busy
# API calls inside the engine at once, the rest waiting in line (ui.server.admission): measured on 2 cores,
# 32 clients (docs/benchmarks.md, "Admission").
DEFAULT_ENGINE_SLOTS = 4
DEFAULT_CONVERSATION_DAYS = 30  # a conversation untouched this long is deleted (citeqa.store)
MAX_CONVERSATION_DAYS = 3650
LOOPBACK = ("localhost", "127.0.0.1", "::1")
_WILDCARDS = ("0.0.0.0", "::", "")


@dataclass(frozen=True)
class ServeSettings:
    """What the web layer needs; the engine's own knobs stay in ``citeqa.settings.Settings``.

    ``root_path`` is the public sub-path behind a reverse proxy ("/citeqa"), "" when served at "/".
    ``cors_origins`` is empty by default: no cross-origin browser calls are allowed.
    ``access_token`` "" means the server is open; otherwise every page and API call needs it.
    ``admin_token`` (``CITEQA_ADMIN_TOKEN``) turns on ``/admin`` and is the only key to it; "" = no admin page.
    ``allowed_hosts`` are the names a request's ``Host`` may carry (``*`` any): loopback and the
    interface served by default, so a web page cannot reach a loopback server by DNS rebinding.
    ``trusted_proxies`` are the peer addresses whose ``X-Forwarded-*`` headers are believed.
    ``data_dir`` holds the conversation store (``citeqa.sqlite3``); None keeps conversations in
    memory only (what code and tests get unless they name one; ``from_env`` always names one: the
    ``CITEQA_DATA_DIR`` the index lives under by default). ``conversation_days`` is how long an
    untouched conversation is kept.
    """

    host: str = "127.0.0.1"
    port: int = 7860
    root_path: str = ""
    cors_origins: tuple[str, ...] = ()
    access_token: str = ""
    admin_token: str = ""
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    allowed_hosts: tuple[str, ...] = ()  # () = the default for ``host`` (see default_hosts)
    trusted_proxies: tuple[str, ...] = ()
    queue_size: int = DEFAULT_QUEUE_SIZE
    engine_slots: int = DEFAULT_ENGINE_SLOTS
    data_dir: Path | None = None
    conversation_days: int = DEFAULT_CONVERSATION_DAYS

    def hosts(self) -> tuple[str, ...]:
        """The Host names accepted: the configured ones, else loopback plus what ``host`` implies."""
        return self.allowed_hosts or default_hosts(self.host)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> ServeSettings:
        """``CITEQA_CORS_ORIGINS`` (comma separated), ``CITEQA_ACCESS_TOKEN``, ``CITEQA_MAX_BODY_BYTES``, ...

        ``CITEQA_DATA_DIR`` (default: the user's data directory, as for the index) holds the
        conversations; ``CITEQA_CONVERSATION_DAYS`` (default 30) is how long they are kept.

        >>> ServeSettings.from_env({"CITEQA_CORS_ORIGINS": "http://a.lan, http://b.lan/"}).cors_origins
        ('http://a.lan', 'http://b.lan')
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {
            "cors_origins": parse_origins(env.get("CITEQA_CORS_ORIGINS", "")),
            "access_token": env.get("CITEQA_ACCESS_TOKEN", "").strip(),
            "admin_token": env.get("CITEQA_ADMIN_TOKEN", "").strip(),
            "allowed_hosts": parse_list(env.get("CITEQA_ALLOWED_HOSTS", ""), lower=True),
            "trusted_proxies": parse_list(env.get("CITEQA_TRUSTED_PROXIES", "")),
            "data_dir": data_dir_from(env),
        }
        numbers = (
            ("CITEQA_MAX_BODY_BYTES", "max_body_bytes"), ("CITEQA_QUEUE_SIZE", "queue_size"),
            ("CITEQA_ENGINE_SLOTS", "engine_slots"), ("CITEQA_CONVERSATION_DAYS", "conversation_days"),
        )
        for name, field in numbers:
            raw = env.get(name, "").strip()
            if raw:
                try:
                    values[field] = int(raw)
                except ValueError:
                    raise SettingError(name, raw, "a whole number") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["root_path"] = normalize_root_path(values.get("root_path", ""))
        return cls(**values)

    def __post_init__(self) -> None:
        if not 1024 <= self.max_body_bytes <= 1 << 30:
            raise SettingError("CITEQA_MAX_BODY_BYTES", self.max_body_bytes, "a number from 1024 to 1073741824")
        if not 0 < self.port < 65536:
            raise SettingError("--port", self.port, "a port from 1 to 65535")
        if not 1 <= self.queue_size <= 100_000:
            raise SettingError("CITEQA_QUEUE_SIZE", self.queue_size, "a number from 1 to 100000")
        if not 1 <= self.engine_slots <= 1024:
            raise SettingError("CITEQA_ENGINE_SLOTS", self.engine_slots, "a number from 1 to 1024")
        days = self.conversation_days
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_CONVERSATION_DAYS:
            raise SettingError("CITEQA_CONVERSATION_DAYS", days,
                               f"a whole number of days from 1 to {MAX_CONVERSATION_DAYS}")

    def with_(self, **changes: Any) -> ServeSettings:
        """Return a copy with some fields changed."""
        return replace(self, **changes)


def data_dir_from(env: Mapping[str, str]) -> Path:
    """``CITEQA_DATA_DIR``, else the user's data directory: ``citeqa.settings.data_dir_from``, the one rule."""
    from citeqa.settings import data_dir_from as library_rule

    return library_rule(env)


def parse_origins(raw: str) -> tuple[str, ...]:
    """Split a comma separated origin list; trailing slashes are dropped (browsers send none)."""
    return tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())


def parse_list(raw: str, *, lower: bool = False) -> tuple[str, ...]:
    """Split a comma separated list: ``" a.lan, B.lan ,"`` → ``("a.lan", "B.lan")``."""
    items = (x.strip() for x in raw.split(","))
    return tuple(x.lower() if lower else x for x in items if x)


def default_hosts(host: str) -> tuple[str, ...]:
    """Loopback names, the host served, and for a wildcard bind this machine's names and addresses.

    >>> default_hosts("127.0.0.1")
    ('localhost', '127.0.0.1', '::1')
    """
    import socket

    names = list(LOOPBACK)
    if host not in _WILDCARDS:
        names.append(host.strip("[]").lower())
    else:
        hostname = socket.gethostname()
        names += [hostname.lower(), socket.getfqdn().lower()]
        with contextlib.suppress(OSError):  # an unresolvable hostname: the names above still work
            names += [str(info[4][0]) for info in socket.getaddrinfo(hostname, None)]
    return tuple(dict.fromkeys(names))


def normalize_root_path(raw: str) -> str:
    """"/", "", "prefix/" → "", "", "/prefix": a leading slash and no trailing one.

    >>> normalize_root_path("citeqa/")
    '/citeqa'
    """
    raw = (raw or "").strip().strip("/")
    if not raw:
        return ""
    if any(c in raw for c in "?#\\ \t\"'<>"):
        raise SettingError("--root-path", raw, "a plain URL path such as /citeqa")
    return "/" + raw
