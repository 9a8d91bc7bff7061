"""Secrets out of the logs, as one rule: judged by what a value means, after percent-decoding.

The access log holds every request line. What must never be in it: the access token (``?token=``,
in any spelling the server accepts: ``?%74oken=`` decodes to the same key), Gradio's session hash
(``?session_hash=`` and ``/heartbeat/<hash>``: replaying one returned that person's conversation),
and conversation ids (32 hex digits, handed out by ``ui.chat.session``). Values are replaced by
``[redacted]``; the rest of the line stays, so the log still says what was asked of the server.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

SECRET_KEYS = frozenset({"token", "session_hash"})
REDACTED = "[redacted]"
_PAIR = re.compile(r"(^|[?&;])([^=&;?#\s\"]+)=([^&;#\s\"]*)")
_HEARTBEAT = re.compile(r"(/heartbeat/)[^/?#\s\"]+", re.IGNORECASE)
_CONVERSATION_ID = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{32}(?![0-9a-fA-F])")


def _key(raw: str) -> str:
    """A query key as the server reads it, decoded until it stops changing (so no encoding hides it)."""
    for _ in range(4):
        decoded = unquote_plus(raw)
        if decoded == raw:
            break
        raw = decoded
    return raw.strip().lower()


def redact(text: str) -> str:
    """``GET /x?%74oken=s3cret&q=1`` → ``GET /x?%74oken=[redacted]&q=1``; heartbeat hashes and ids likewise."""
    text = _PAIR.sub(lambda m: f"{m[1]}{m[2]}={REDACTED}" if _key(m[2]) in SECRET_KEYS else m[0], text)
    text = _HEARTBEAT.sub(rf"\g<1>{REDACTED}", text)
    return _CONVERSATION_ID.sub(REDACTED, text)


class RedactSecrets(logging.Filter):
    """Apply ``redact`` to a record's message and its string arguments."""

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: D102
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


LOGGERS = ("uvicorn.access", "uvicorn.error", "uvicorn", "citeqa")


def redact_secrets_in_logs() -> None:
    """Attach the filter to the loggers that write request lines (a filter does not apply to children)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
