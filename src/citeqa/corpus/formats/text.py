"""Read a document from disk and decode it, detecting the common Chinese encodings."""

from __future__ import annotations

import codecs
import os
import stat
import unicodedata
from pathlib import Path
from typing import BinaryIO

from citeqa.corpus.limits import too_big
from citeqa.corpus.model import Document
from citeqa.errors import InputError

# Tried in this order after UTF-8. Big5 is stricter than GB18030 (which decodes almost any byte
# string), so a Big5 file is tried as Big5 first; ties are broken by charset-normalizer below.
_CJK_LEGACY = ("cp950", "gb18030")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def read_document(path: Path, *, max_bytes: int, source: str | None = None) -> Document:
    """Read ``path`` as text. Raises InputError naming the file and the problem."""
    return text_document(read_raw(path, max_bytes=max_bytes), name=str(path), source=source or path.name)


def read_raw(path: Path, *, max_bytes: int) -> bytes:
    """The bytes of a document file; refuses missing paths, folders, FIFOs, devices, files over ``max_bytes``."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a document")
    try:
        # O_NONBLOCK: opening a FIFO would otherwise wait for a writer; it is refused below instead.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise InputError(f"{path}: {file_kind(st.st_mode)}, not a document file")
            if st.st_size > max_bytes:
                raise InputError(
                    f"{path}: {st.st_size:,} bytes is over the limit of {max_bytes:,} "
                    "(set CITEQA_MAX_DOC_BYTES to raise it)"
                )
            data = _read_capped(f, st.st_size, max_bytes)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if len(data) > max_bytes:
        raise too_big(str(path), len(data), max_bytes, "reads as at least")
    return data


def _read_capped(f: BinaryIO, size: int, limit: int) -> bytes:
    """All of ``f`` (``size`` bytes by fstat), or ``limit`` + 1 bytes if it turns out to hold more.

    A file can grow while it is read, and /proc files report size 0; ``read(n)`` reserves ``n``
    bytes up front, so past the size expected the rest is read in pieces.
    """
    data = f.read(min(size, limit) + 1)
    if len(data) <= size:
        return data
    rest = bytearray(data)
    while len(rest) <= limit and (piece := f.read(min(1 << 20, limit + 1 - len(rest)))):
        rest += piece
    return bytes(rest)


def file_kind(mode: int) -> str:
    """What a file that is not a regular file is, from its ``st_mode``: ``"a FIFO"``, ``"a socket"``, etc."""
    kinds = (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a directory"),
    )
    return next((kind for test, kind in kinds if test(mode)), "not a regular file")


def text_document(raw: bytes, *, name: str, source: str) -> Document:
    """A text or Markdown document from its bytes, in whichever supported encoding they are."""
    text, encoding = decode_bytes(raw, name=name)
    if not text.strip():
        raise InputError(f"{name}: the document is empty")
    return Document(source=source, text=text, encoding=encoding)


def decode_bytes(raw: bytes, *, name: str = "<bytes>") -> tuple[str, str]:
    """Decode ``raw`` to text, returning (text, encoding). Raises InputError for binary data."""
    for bom, enc in _BOMS:
        if raw.startswith(bom):
            return _checked(raw.decode(enc, errors="strict"), enc, name), enc
    if b"\x00" in raw:
        utf16 = _utf16_without_bom(raw)
        if utf16:
            return _checked(raw.decode(utf16), utf16, name), utf16
        raise InputError(f"{name}: looks like a binary file (it contains NUL bytes), not a text document")
    try:
        return _checked(raw.decode("utf-8"), "utf-8", name), "utf-8"
    except UnicodeDecodeError:
        pass
    utf16 = _utf16_without_bom(raw)  # Chinese-only UTF-16 has no NUL bytes at all
    if utf16:
        return _checked(raw.decode(utf16), utf16, name), utf16
    decoded: dict[str, str] = {}
    for enc in _CJK_LEGACY:
        try:
            decoded[enc] = raw.decode(enc)
        except UnicodeDecodeError:
            continue
    if len(decoded) > 1:
        best = _guess_with_charset_normalizer(raw)
        if best in decoded:
            decoded = {best: decoded[best]}
    for enc, text in decoded.items():
        return _checked(text, enc, name), enc
    raise InputError(f"{name}: not valid UTF-8, UTF-16, Big5 or GB18030 text; convert it to UTF-8")


def _utf16_without_bom(raw: bytes) -> str | None:
    """UTF-16 without a BOM, recognised by what it decodes to: nearly all common characters."""
    if len(raw) < 4 or len(raw) % 2:
        return None
    for enc in ("utf-16-le", "utf-16-be"):
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError:
            continue
        common = sum(1 for ch in text if _common(ch))
        punctuated = len(text) < 20 or any(ch in _PUNCT for ch in text)  # prose has punctuation
        if common >= 0.95 * len(text) and punctuated:
            return enc
    return None


_PUNCT = frozenset("，。、；：！？「」（）\n .,;:!?()")


def _common(ch: str) -> bool:
    """ASCII text, CJK ideographs and punctuation, full-width forms: what real documents hold."""
    o = ord(ch)
    return (
        (32 <= o < 127) or ch in "\n\r\t" or 0x4E00 <= o <= 0x9FFF or 0x3000 <= o <= 0x303F
        or 0xFF00 <= o <= 0xFFEF or 0x2000 <= o <= 0x206F or 0xA0 <= o <= 0x24F
    )


def _guess_with_charset_normalizer(raw: bytes) -> str | None:
    from charset_normalizer import from_bytes

    match = from_bytes(raw, cp_isolation=["big5", "cp950", "gb18030", "gbk", "gb2312"]).best()
    if match is None:
        return None
    return "cp950" if match.encoding in ("big5", "cp950") else "gb18030"


def _checked(text: str, encoding: str, name: str) -> str:
    """Reject text whose characters are mostly control codes: a binary file that happened to decode."""
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\r\t\f")
    if text and controls > max(2, len(text) // 100):
        raise InputError(f"{name}: looks like a binary file ({controls} control characters as {encoding})")
    odd = sum(1 for ch in text if unicodedata.category(ch) in ("Cn", "Co", "Cs"))
    if text and odd > max(2, len(text) // 20):
        raise InputError(f"{name}: does not decode to readable text as {encoding}; convert it to UTF-8")
    # Line endings are kept: passage offsets index this exact string.
    return text
