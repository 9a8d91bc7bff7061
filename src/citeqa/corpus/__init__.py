"""Corpus stage: documents → sections → passages."""

from citeqa.corpus.chunk import ChunkSettings
from citeqa.corpus.loader import CorpusSettings, LoadedCorpus, bundled_corpus_path, load_corpus, passages_of
from citeqa.corpus.model import Document, Passage
from citeqa.corpus.parse import ParseSettings

__all__ = [
    "ChunkSettings",
    "CorpusSettings",
    "Document",
    "LoadedCorpus",
    "ParseSettings",
    "Passage",
    "bundled_corpus_path",
    "load_corpus",
    "passages_of",
]
