"""The library's exceptions. The CLI and the web app translate them; the library never exits."""

from __future__ import annotations


class CiteqaError(Exception):
    """Base class: something the user can fix, with a message that says how."""


class InputError(CiteqaError, ValueError):
    """Bad input from the user: a missing file, an unreadable document, an empty question."""


class IndexStateError(CiteqaError):
    """An index that is missing, damaged or built for another model or corpus."""


class ModelError(CiteqaError):
    """The embedding model cannot be found or loaded."""


__all__ = ["CiteqaError", "IndexStateError", "InputError", "ModelError"]
