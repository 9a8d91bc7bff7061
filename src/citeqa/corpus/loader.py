"""Entry point of the corpus stage: paths → documents → passages.

Folders are walked by ``walk``. Text and Markdown are decoded by ``reader`` and parsed by
``parse``; PDF (``pdf``) and Word (``docx``) files are turned into the same blocks by their own
module, chosen by the file's suffix. ``limits`` holds each document to ``max_doc_bytes``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citeqa.corpus.chunk import ChunkSettings, chunk_blocks, label_with_page
from citeqa.corpus.formats.text import read_raw, text_document
from citeqa.corpus.limits import DEFAULT_MAX_DOC_BYTES, too_big
from citeqa.corpus.model import Document, Passage, Skipped
from citeqa.corpus.parse import ParseSettings, parse_blocks
from citeqa.corpus.walk import SUFFIXES, walk_documents
from citeqa.corpus.walk import path_selected as path_selected  # re-exported: the globs' one definition
from citeqa.errors import InputError

if TYPE_CHECKING:
    from citeqa.settings import Settings

BUNDLED_NAME = "mofa-2024-review.zh-TW.txt"


def bundled_corpus_path() -> Path:
    """The bundled default document (2024 年外交工作回顧, shipped byte for byte as published)."""
    return Path(str(resources.files("citeqa.corpus") / "data" / BUNDLED_NAME))


@dataclass(frozen=True)
class CorpusSettings:
    """Everything that changes which passages a document yields (recorded in index manifests)."""

    parse: ParseSettings = field(default_factory=ParseSettings)
    chunk: ChunkSettings = field(default_factory=ChunkSettings)
    max_doc_bytes: int = DEFAULT_MAX_DOC_BYTES  # the file, what it unpacks to, and its text

    @classmethod
    def of(cls, settings: Settings) -> CorpusSettings:
        """The corpus stage's share of the settings: chunk size and the document size limit."""
        return cls(chunk=ChunkSettings(max_chars=settings.max_chars), max_doc_bytes=settings.max_doc_bytes)

    def fingerprint(self) -> dict[str, Any]:
        """What decides which passages a document yields; an index records it and refuses another."""
        return {"parse": asdict(self.parse), "chunk": asdict(self.chunk)}


@dataclass(frozen=True)
class LoadedCorpus:
    """Documents read, their passages, per-file sha256 and path, and files skipped with the reason."""

    documents: tuple[Document, ...]
    passages: tuple[Passage, ...]
    sha256: dict[str, str]
    skipped: tuple[Skipped, ...] = ()
    paths: dict[str, Path] = field(default_factory=dict)  # source name → the file it was read from


def passages_of(doc: Document, settings: CorpusSettings | None = None) -> list[Passage]:
    """Parse one decoded document into passages; a PDF's passages carry their page, also in the label."""
    settings = settings or CorpusSettings()
    blocks = list(doc.blocks) if doc.blocks is not None else parse_blocks(doc.text, settings.parse)
    passages = chunk_blocks(blocks, doc.source, settings.chunk)
    if doc.pages:
        passages = [_on_page(p, doc.page_at(p.start)) for p in passages]
    return passages


def _on_page(p: Passage, page: int | None) -> Passage:
    return replace(p, page=page, label=label_with_page(p.label, page)) if page is not None else p


def load_corpus(
    paths: Iterable[Path] | None = None,
    settings: CorpusSettings | None = None,
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> LoadedCorpus:
    """Read files and folders (recursively) into passages; the bundled document when none are given.

    A file named directly must be readable and hold a paragraph (InputError otherwise). Inside a
    folder, files that cannot be read or hold no paragraph, and entries that cannot be documents
    (see ``walk``), are skipped and reported; the folder must yield at least one document.
    ``include`` and ``exclude`` are globs matched against a file's path relative to the folder
    given (see ``path_selected``); files named directly are always read.
    """
    settings = settings or CorpusSettings()
    given = list(paths) if paths else [bundled_corpus_path()]
    loaded: list[_Loaded] = []
    skipped: list[Skipped] = []
    for root in given:
        if not root.exists():
            raise InputError(f"{root}: no such file or directory")
        if not root.is_dir():
            loaded.append(_load(root, root.name, settings))
            continue
        scan = walk_documents(root, include=include, exclude=exclude)
        passed_over = list(scan.skipped)
        found = 0
        for path in scan.files:
            try:
                loaded.append(_load(path, path.relative_to(root).as_posix(), settings))
                found += 1
            except InputError as exc:
                passed_over.append(Skipped(str(path), str(exc)))
        skipped.extend(sorted(passed_over, key=lambda s: s.path))
        if not found:
            what = "matching documents" if include or exclude else "readable documents"
            raise InputError(f"{root}: no {what} ({', '.join(SUFFIXES)}) in this folder")
    sources = [item.doc.source for item in loaded]
    dupes = sorted({s for s in sources if sources.count(s) > 1})
    if dupes:
        raise InputError(f"two documents share the source name {dupes[0]!r}; index them from one folder")
    return LoadedCorpus(
        tuple(item.doc for item in loaded),
        tuple(p for item in loaded for p in item.passages),
        {item.doc.source: item.sha256 for item in loaded},
        tuple(skipped),
        {item.doc.source: item.path for item in loaded},
    )


@dataclass(frozen=True)
class _Loaded:
    """One document read from ``path``, its passages and the sha256 of its bytes."""

    path: Path
    doc: Document
    passages: tuple[Passage, ...]
    sha256: str


def _load(path: Path, source: str, settings: CorpusSettings) -> _Loaded:
    """Read and parse one file; InputError when it cannot be read or holds no paragraph of text."""
    doc, digest = read_file(path, source, settings)
    passages = passages_of(doc, settings)
    if not passages:
        raise InputError(f"{path}: no paragraphs of text found")
    return _Loaded(path, doc, tuple(passages), digest)


def read_file(path: Path, source: str, settings: CorpusSettings) -> tuple[Document, str]:
    """Read one document by its suffix (.pdf, .docx, else text); returns it with its bytes' sha256."""
    limit = settings.max_doc_bytes
    raw = read_raw(path, max_bytes=limit)
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        from citeqa.corpus.formats.pdf import read_pdf

        doc = read_pdf(raw, name=str(path), source=source, settings=settings.parse, max_bytes=limit)
    elif suffix == ".docx":
        from citeqa.corpus.formats.docx import read_docx

        doc = read_docx(raw, name=str(path), source=source, settings=settings.parse, max_bytes=limit)
    else:
        doc = text_document(raw, name=str(path), source=source)
    if len(doc.text) > limit:  # PDF and Word text is also counted while it is extracted
        raise too_big(str(path), len(doc.text), limit, "its text is", "characters")
    return doc, hashlib.sha256(raw).hexdigest()
