"""Settings of the web server: read once from ``CITEQA_*`` variables, with the ``serve`` flags on top."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from citeqa.errors import InputError

DEFAULT_MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class ServeSettings:
    """What the web layer needs; the engine's own knobs stay in ``citeqa.settings.Settings``.

    ``root_path`` is the public sub-path behind a reverse proxy ("/citeqa"), "" when served at "/".
    ``cors_origins`` is empty by default: no cross-origin browser calls are allowed.
    ``access_token`` "" means the server is open; otherwise every page and API call needs it.
    """

    host: str = "127.0.0.1"
    port: int = 7860
    root_path: str = ""
    cors_origins: tuple[str, ...] = ()
    access_token: str = ""
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> ServeSettings:
        """``CITEQA_CORS_ORIGINS`` (comma separated), ``CITEQA_ACCESS_TOKEN``, ``CITEQA_MAX_BODY_BYTES``.

        >>> ServeSettings.from_env({"CITEQA_CORS_ORIGINS": "http://a.lan, http://b.lan/"}).cors_origins
        ('http://a.lan', 'http://b.lan')
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {
            "cors_origins": parse_origins(env.get("CITEQA_CORS_ORIGINS", "")),
            "access_token": env.get("CITEQA_ACCESS_TOKEN", "").strip(),
        }
        raw = env.get("CITEQA_MAX_BODY_BYTES", "").strip()
        if raw:
            try:
                values["max_body_bytes"] = int(raw)
            except ValueError as exc:
                raise InputError(f"CITEQA_MAX_BODY_BYTES={raw!r} is not a whole number of bytes") from exc
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["root_path"] = normalize_root_path(values.get("root_path", ""))
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        """Raise InputError for values the server cannot run with."""
        if self.max_body_bytes < 1024:
            raise InputError(f"CITEQA_MAX_BODY_BYTES must be at least 1024, got {self.max_body_bytes}")
        if not 0 < self.port < 65536:
            raise InputError(f"the port must be between 1 and 65535, got {self.port}")

    def with_(self, **changes: Any) -> ServeSettings:
        """Return a copy with some fields changed."""
        return replace(self, **changes)


def parse_origins(raw: str) -> tuple[str, ...]:
    """Split a comma separated origin list; trailing slashes are dropped (browsers send none)."""
    return tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())


def normalize_root_path(raw: str) -> str:
    """"/", "", "prefix/" → "", "", "/prefix": a leading slash and no trailing one.

    >>> normalize_root_path("citeqa/")
    '/citeqa'
    """
    raw = (raw or "").strip().strip("/")
    if not raw:
        return ""
    if any(c in raw for c in "?#\\ \t\"'<>"):
        raise InputError(f"--root-path {raw!r} must be a plain URL path such as /citeqa")
    return "/" + raw
