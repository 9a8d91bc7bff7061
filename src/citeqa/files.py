"""File helpers shared by the stages: hashing, and the project's one atomic file write and directory swap.

Every file or folder citeqa publishes goes through ``write_atomic`` or ``replace_dir``, so a killed
process or a full disk leaves the previous version readable; tests/fast/test_atomic_write.py checks
that no other module calls ``os.replace``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO


def sha256_file(path: Path) -> str:
    """The sha256 of a file's bytes, read in 1 MiB blocks (models and indexes can be large)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_atomic(path: Path, data: str | bytes | Callable[[IO[bytes]], object]) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the whole new one, never half.

    ``data`` is text (written as UTF-8), bytes, or a function that writes into the open binary file,
    for writers that stream (``lambda f: np.save(f, a)``). The temp file sits beside ``path`` (a
    rename never crosses file systems) and is removed on any failure, a full disk included; the
    error is raised as it came. ``path``'s directory is fsynced, so the rename survives a crash.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    text = isinstance(data, str)
    try:
        with open(tmp, "w" if text else "wb", encoding="utf-8" if text else None) as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def replace_dir(src: Path, dst: Path) -> None:
    """Publish the finished directory ``src`` at ``dst`` (same file system): readers see a whole one or none.

    Unlike a file, a non-empty directory cannot be renamed over, so an existing ``dst`` is first
    moved aside into ``.<dst name>.tmp-…`` beside it and deleted; between the two renames there is
    no ``dst``, which is why callers hold a lock and readers check that what they find is complete.
    On failure ``src`` is left for the caller to remove (it also removes it when filling it fails).
    """
    fsync_dir(src)
    if dst.exists():
        trash = Path(tempfile.mkdtemp(prefix=f".{dst.name}.tmp-", dir=dst.parent))
        os.replace(dst, trash / "old")
        shutil.rmtree(trash, ignore_errors=True)
    os.replace(src, dst)
    fsync_dir(dst.parent)


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def log_to_stderr(message: str) -> None:
    """The default progress log of library calls: one line on stderr."""
    print(message, file=sys.stderr, flush=True)
