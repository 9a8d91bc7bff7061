"""Entry point of the corpus stage: paths → documents → passages."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from citeqa.corpus.chunk import ChunkSettings, chunk_blocks
from citeqa.corpus.model import Document, Passage
from citeqa.corpus.parse import ParseSettings, parse_blocks
from citeqa.corpus.reader import read_document
from citeqa.errors import InputError

BUNDLED_NAME = "mofa-2024-review.zh-TW.txt"
SUFFIXES = (".txt", ".md", ".markdown")


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
    """Documents read, their passages, per-file sha256, and files skipped with the reason."""

    documents: tuple[Document, ...]
    passages: tuple[Passage, ...]
    sha256: dict[str, str]
    skipped: tuple[Skipped, ...] = ()


def passages_of(doc: Document, settings: CorpusSettings | None = None) -> list[Passage]:
    """Parse one decoded document into passages."""
    settings = settings or CorpusSettings()
    return chunk_blocks(parse_blocks(doc.text, settings.parse), doc.source, settings.chunk)


def load_corpus(paths: Iterable[Path] | None = None, settings: CorpusSettings | None = None) -> LoadedCorpus:
    """Read files and folders (recursively) into passages; the bundled document when none are given.

    A file named directly must be readable (InputError otherwise). Inside a folder, unreadable files
    are skipped and reported, and the folder must yield at least one document.
    """
    settings = settings or CorpusSettings()
    given = list(paths) if paths else [bundled_corpus_path()]
    docs: list[Document] = []
    digests: dict[str, str] = {}
    skipped: list[Skipped] = []
    for root in given:
        if not root.exists():
            raise InputError(f"{root}: no such file or directory")
        if root.is_dir():
            found = 0
            for path in walk_documents(root):
                source = path.relative_to(root).as_posix()
                try:
                    doc, digest = _read(path, source, settings)
                except InputError as exc:
                    skipped.append(Skipped(str(path), str(exc)))
                    continue
                found += 1
                docs.append(doc)
                digests[doc.source] = digest
            if not found:
                raise InputError(f"{root}: no readable documents ({', '.join(SUFFIXES)}) in this folder")
        else:
            doc, digest = _read(root, root.name, settings)
            docs.append(doc)
            digests[doc.source] = digest
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
    return LoadedCorpus(tuple(docs), tuple(passages), digests, tuple(skipped))


def _read(path: Path, source: str, settings: CorpusSettings) -> tuple[Document, str]:
    doc = read_document(path, max_bytes=settings.max_doc_bytes, source=source)
    return doc, hashlib.sha256(path.read_bytes()).hexdigest()


def walk_documents(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        hidden = any(part.startswith(".") for part in path.relative_to(root).parts)
        if path.is_file() and path.suffix.lower() in SUFFIXES and not hidden:
            yield path
