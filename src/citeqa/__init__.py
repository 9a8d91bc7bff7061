"""citeqa: question answering over Chinese documents with a cited source paragraph for every claim."""

from citeqa.errors import CiteqaError

__version__ = "0.1.0"
__all__ = ["CiteqaError", "__version__"]
