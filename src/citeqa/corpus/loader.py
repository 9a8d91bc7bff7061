"""Entry point of the corpus stage: paths → documents → passages.

Text and Markdown are decoded by ``reader`` and parsed by ``parse``; PDF (``pdf``) and Word
(``docx``) files are turned into the same blocks by their own module, chosen by the file's suffix.
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path, PurePosixPath

from citeqa.corpus.chunk import ChunkSettings, chunk_blocks, label_with_page
from citeqa.corpus.model import Document, Passage
from citeqa.corpus.parse import ParseSettings, parse_blocks
from citeqa.corpus.reader import read_raw, text_document
from citeqa.errors import InputError

BUNDLED_NAME = "mofa-2024-review.zh-TW.txt"
TEXT_SUFFIXES = (".txt", ".md", ".markdown")
SUFFIXES = (*TEXT_SUFFIXES, ".pdf", ".docx")


def bundled_corpus_path() -> Path:
    """The bundled default document (2024 年外交工作回顧, shipped byte for byte as published)."""
    return Path(str(resources.files("citeqa.corpus") / "data" / BUNDLED_NAME))


@dataclass(frozen=True)
class CorpusSettings:
    """Everything that changes which passages a document yields (recorded in index manifests)."""

    parse: ParseSettings = field(default_factory=ParseSettings)
    chunk: ChunkSettings = field(default_factory=ChunkSettings)
    max_doc_bytes: int = 50_000_000


@dataclass(frozen=True)
class Skipped:
    """A file found in a folder that could not be read, and why."""

    path: str
    reason: str


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

    A file named directly must be readable (InputError otherwise). Inside a folder, unreadable files
    are skipped and reported, and the folder must yield at least one document. ``include`` and
    ``exclude`` are globs matched against a file's path relative to the folder given (see
    ``path_selected``); files named directly are always read.
    """
    settings = settings or CorpusSettings()
    given = list(paths) if paths else [bundled_corpus_path()]
    docs: list[Document] = []
    digests: dict[str, str] = {}
    files: dict[str, Path] = {}
    skipped: list[Skipped] = []
    for root in given:
        if not root.exists():
            raise InputError(f"{root}: no such file or directory")
        if root.is_dir():
            found = 0
            for path in walk_documents(root, include=include, exclude=exclude):
                source = path.relative_to(root).as_posix()
                try:
                    doc, digest = read_file(path, source, settings)
                except InputError as exc:
                    skipped.append(Skipped(str(path), str(exc)))
                    continue
                found += 1
                docs.append(doc)
                digests[doc.source] = digest
                files[doc.source] = path
            if not found:
                what = "matching documents" if include or exclude else "readable documents"
                raise InputError(f"{root}: no {what} ({', '.join(SUFFIXES)}) in this folder")
        else:
            doc, digest = read_file(root, root.name, settings)
            docs.append(doc)
            digests[doc.source] = digest
            files[doc.source] = root
    sources = [d.source for d in docs]
    dupes = sorted({s for s in sources if sources.count(s) > 1})
    if dupes:
        raise InputError(f"two documents share the source name {dupes[0]!r}; index them from one folder")
    passages: list[Passage] = []
    for doc in docs:
        found_passages = passages_of(doc, settings)
        if not found_passages:
            raise InputError(f"{doc.source}: no paragraphs of text found")
        passages.extend(found_passages)
    return LoadedCorpus(tuple(docs), tuple(passages), digests, tuple(skipped), files)


def read_file(path: Path, source: str, settings: CorpusSettings) -> tuple[Document, str]:
    """Read one document by its suffix (.pdf, .docx, else text); returns it with its bytes' sha256."""
    raw = read_raw(path, max_bytes=settings.max_doc_bytes)
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        from citeqa.corpus.pdf import read_pdf

        doc = read_pdf(raw, name=str(path), source=source, settings=settings.parse)
    elif suffix == ".docx":
        from citeqa.corpus.docx import read_docx

        doc = read_docx(raw, name=str(path), source=source, settings=settings.parse)
    else:
        doc = text_document(raw, name=str(path), source=source)
    return doc, hashlib.sha256(raw).hexdigest()


def walk_documents(root: Path, *, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> Iterator[Path]:
    """Supported, non-hidden files under ``root``, sorted, passing the ``include``/``exclude`` globs."""
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        hidden = any(part.startswith(".") for part in rel.parts)
        supported = path.is_file() and path.suffix.lower() in SUFFIXES and not hidden
        if supported and path_selected(rel.as_posix(), include, exclude):
            yield path


def path_selected(rel: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    """Whether a folder-relative path passes the globs: matches an include (when any) and no exclude.

    ``*`` matches across ``/`` (fnmatch, case-sensitive), a leading ``**/`` may match nothing, and a
    folder matches everything below it: ``"drafts/a/b.md"`` matches ``drafts``, ``drafts/``,
    ``drafts/a``, ``*.md`` and ``**/b.md``; ``"b.md"`` matches ``**/b.md`` and ``*.md`` but not ``drafts``.
    """
    return (not include or any(_glob(rel, g) for g in include)) and not any(_glob(rel, g) for g in exclude)


def _glob(rel: str, pattern: str) -> bool:
    pattern = pattern.replace("\\", "/").removeprefix("./").rstrip("/")
    if not pattern:
        return False
    patterns = {pattern, pattern.removeprefix("**/")}
    candidates = [rel, *(p.as_posix() for p in PurePosixPath(rel).parents if p.as_posix() != ".")]
    return any(fnmatch.fnmatchcase(c, g) for c in candidates for g in patterns)
