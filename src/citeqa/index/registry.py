"""``backend_for``: the one place that maps ``Settings.backend`` to an ``IndexBackend``.

An optional backend whose extra is not installed is refused here, by name, before any model is
loaded: ``the milvus backend needs: pip install 'citeqa[milvus]'``.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from citeqa.errors import MissingExtraError
from citeqa.index.protocol import IndexBackend
from citeqa.settings import Backend, Settings

# The packages each optional backend imports, and the extra that installs them.
EXTRAS = {Backend.MILVUS: (("pymilvus", "milvus_lite"), "milvus")}


def backend_for(settings: Settings, index_dir: Path | None = None) -> IndexBackend:
    """The backend the settings name; ``index_dir`` overrides the local index directory."""
    packages, extra = EXTRAS.get(settings.backend, ((), ""))
    if any(find_spec(name) is None for name in packages):
        raise MissingExtraError(f"the {settings.backend} backend", extra)
    if settings.backend is Backend.MILVUS:
        from citeqa.index.milvus.backend import MilvusBackend

        return MilvusBackend(settings)
    from citeqa.index.local.backend import LocalBackend

    return LocalBackend(settings, index_dir)
