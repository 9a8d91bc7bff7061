"""How much one document may unpack to, so that a small file cannot turn into a huge one.

One limit, ``CorpusSettings.max_doc_bytes`` (``CITEQA_MAX_DOC_BYTES``), caps each stage of reading a
document: the file's bytes (``reader``), what its zip members (``unpacked_zip``) or PDF streams
(``pypdf_configuration``, ``PdfCounts``) inflate to, and the text taken from it. A 0.5 MB .docx
whose XML inflates to 300 MB is refused before it is parsed, from the sizes its zip declares.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from typing import Any

from citeqa.errors import InputError

DEFAULT_MAX_DOC_BYTES = 50_000_000
# Deflate cannot exceed about 1030:1 (zeros); ordinary Office XML packs 5-30:1, and a 30,000-cell
# blank table written by python-docx, the most regular XML we could make, 101:1. A zip member
# unpacking to more than 200 times its packed size is taken for a bomb (the probe's bomb: 671:1).
MAX_RATIO = 200
# Members below this size are not held to MAX_RATIO: that little data cannot hurt, whatever its ratio.
RATIO_FLOOR = 1 << 20
# Office Open XML packages may only use these (ECMA-376 Part 2); bzip2 and lzma members are
# inflated by zipfile without an output bound, so they are refused before being read.
_ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
# pypdf's limits on what one stream may inflate to (75 MB each by default).
_PYPDF_OUTPUT_LIMITS = (
    "array_based_stream_maximum_output_length",
    "brotli_maximum_output_length",
    "jbig2_maximum_output_length",
    "lzw_maximum_output_length",
    "run_length_maximum_output_length",
    "zlib_maximum_output_length",
)


def too_big(name: str, size: int, limit: int, what: str, unit: str = "bytes") -> InputError:
    """The error for a document over the limit.

    ``bomb.docx: its zip members unpack to 304,126,446 bytes, over the limit of 50,000,000 (set …)``.
    """
    return InputError(
        f"{name}: {what} {size:,} {unit}, over the limit of {limit:,} (set CITEQA_MAX_DOC_BYTES to raise it)"
    )


@dataclass
class Budget:
    """A running count against the limit, raising once it is passed.

    It stays spent: every later ``add`` raises too, even ``add(0)``, so a count that a library
    swallowed the first time (pypdf skips a form XObject that raised) is raised again.
    """

    name: str
    limit: int
    what: str
    unit: str = "bytes"
    used: int = 0

    def add(self, amount: int = 0) -> None:
        """Count ``amount`` more; raises InputError when the total is over the limit."""
        self.used += amount
        if self.used > self.limit:
            raise too_big(self.name, self.used, self.limit, f"{self.what} at least", self.unit)


def unpacked_zip(raw: bytes, *, name: str, max_bytes: int) -> bytes:
    """The zip ``raw`` rewritten with its members stored uncompressed, read through a byte count.

    The sizes the zip declares are checked first (their sum against ``max_bytes``, each member's
    ratio against MAX_RATIO); then every member is inflated with a cap on the bytes read, so a
    header that lies about a size cannot get more past. Raises InputError naming the file.
    Errors of the zip itself (not a zip, damaged, encrypted) are left to the caller.
    """
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        members = src.infolist()
        _check_declared(members, name=name, max_bytes=max_bytes)
        budget = Budget(name, max_bytes, "its zip members unpack to")
        for info in members:
            with src.open(info) as member:
                data = member.read(min(budget.limit - budget.used, _ratio_cap(info)) + 1)
            _check_ratio(info, len(data), name=name)
            budget.add(len(data))
            dst.writestr(info.filename, data)
    return out.getvalue()


def _check_declared(members: list[zipfile.ZipInfo], *, name: str, max_bytes: int) -> None:
    declared = sum(info.file_size for info in members)
    if declared > max_bytes:
        raise too_big(name, declared, max_bytes, "its zip members unpack to")
    seen: set[str] = set()
    for info in members:
        if info.compress_type not in _ZIP_METHODS:
            raise InputError(
                f"{name}: not a readable Word document ({info.filename} uses zip compression method "
                f"{info.compress_type}; Word documents use only deflate)"
            )
        if info.filename in seen:  # which copy a reader takes is up to the reader
            raise InputError(f"{name}: not a readable Word document (the zip holds {info.filename} twice)")
        seen.add(info.filename)
        _check_ratio(info, info.file_size, name=name)


def _ratio_cap(info: zipfile.ZipInfo) -> int:
    return max(RATIO_FLOOR, MAX_RATIO * info.compress_size)


def _check_ratio(info: zipfile.ZipInfo, size: int, *, name: str) -> None:
    if size > _ratio_cap(info):
        ratio = size / max(1, info.compress_size)
        raise InputError(
            f"{name}: {info.filename} unpacks to {size:,} bytes from {info.compress_size:,} "
            f"({ratio:,.0f} times), over the limit of {MAX_RATIO} times: refused as a decompression bomb"
        )


def pypdf_configuration(max_bytes: int) -> Any:
    """The configuration for ``pypdf.apply_configuration`` under which no stream inflates past ``max_bytes``."""
    from pypdf import get_configuration

    limits = dict.fromkeys(_PYPDF_OUTPUT_LIMITS, max(1, max_bytes))  # pypdf reads 0 as "no limit"
    return get_configuration().with_overwrites(**limits)


@dataclass
class PdfCounts:
    """What a PDF has unpacked to so far: the page and form streams drawn, and the text."""

    streams: Budget
    text: Budget
    forms: dict[int, tuple[Any, dict[str, list[Any]]]] = field(default_factory=dict)  # by resources

    @classmethod
    def of(cls, name: str, max_bytes: int) -> PdfCounts:
        """Both counts against ``max_bytes``."""
        return cls(
            Budget(name, max_bytes, "its page streams unpack to"),
            Budget(name, max_bytes, "its text is", "characters"),
        )

    def form_size(self, page: Any, name: str) -> int:
        """Unpacked size of the form XObject ``name`` that a page draws; 0 for an image.

        A form inside a form is looked up among the forms the page's resources lead to, taking the
        largest of that name: more than pypdf may draw, never less.
        """
        resources = _resolved(page.get("/Resources"))
        if id(resources) not in self.forms:  # pages usually share one resources dictionary
            self.forms[id(resources)] = (resources, _form_xobjects(resources))
        forms = self.forms[id(resources)][1]
        return max((len(form.get_data()) for form in forms.get(name, ())), default=0)


def _form_xobjects(resources: Any) -> dict[str, list[Any]]:
    """Form XObjects by name in ``resources`` and, in turn, in the resources of those forms."""
    from pypdf.generic import StreamObject

    found: dict[str, list[Any]] = {}
    seen: set[int] = set()
    todo = [resources]
    while todo:
        res = _resolved(todo.pop())
        xobjects = _resolved(res.get("/XObject")) if isinstance(res, dict) else None
        for name, ref in xobjects.items() if isinstance(xobjects, dict) else ():
            form = _resolved(ref)
            if isinstance(form, StreamObject) and form.get("/Subtype") == "/Form" and id(form) not in seen:
                seen.add(id(form))
                found.setdefault(name, []).append(form)
                todo.append(form.get("/Resources"))
    return found


def _resolved(obj: Any) -> Any:
    return obj.get_object() if obj is not None and hasattr(obj, "get_object") else obj
