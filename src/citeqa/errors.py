"""The library's exceptions. The CLI and the web app translate them; the library never exits.

Errors a user interface shows carry their facts as fields (``QuestionTooLong.length``), so a
translation reads fields, never English message text.
"""

from __future__ import annotations


class CiteqaError(Exception):
    """Base class: something the user can fix, with a message that says how."""


class InputError(CiteqaError, ValueError):
    """Bad input from the user: a missing file, an unreadable document, an empty question."""


class SettingError(InputError):
    """A setting (``CITEQA_*`` variable or flag) with a value citeqa cannot run with."""

    def __init__(self, name: str, value: object, allowed: str) -> None:
        self.name, self.value, self.allowed = name, value, allowed
        super().__init__(f"{name}={value!r} is not allowed: {allowed}")


class QuestionEmpty(InputError):
    """A question (or search query) with nothing in it."""

    def __init__(self, what: str = "question") -> None:
        self.what = what
        super().__init__(f"the {what} is empty")


class QuestionTooLong(InputError):
    """A question (or search query) over the length limit."""

    def __init__(self, length: int, limit: int, what: str = "question") -> None:
        self.length, self.limit, self.what = length, limit, what
        super().__init__(f"the {what} has {length:,} characters; the limit is {limit:,}")


class IndexStateError(CiteqaError):
    """An index that is missing, damaged, busy or built for another model or corpus."""


class ModelError(CiteqaError):
    """The embedding model cannot be found or loaded."""


class Overloaded(CiteqaError):
    """Too many questions waiting: try again after ``retry_after`` seconds (the web app's 503)."""

    def __init__(self, waiting: int, retry_after: int = 1) -> None:
        self.waiting, self.retry_after = waiting, retry_after
        super().__init__(f"the server is busy ({waiting} questions waiting); try again in {retry_after} s")


class MissingExtraError(CiteqaError):
    """An optional feature whose packages are not installed; the message names the extra."""

    def __init__(self, feature: str, extra: str) -> None:
        self.feature, self.extra = feature, extra
        super().__init__(f"{feature} needs: pip install 'citeqa[{extra}]'")


__all__ = [
    "CiteqaError",
    "IndexStateError",
    "InputError",
    "MissingExtraError",
    "ModelError",
    "Overloaded",
    "QuestionEmpty",
    "QuestionTooLong",
    "SettingError",
]
