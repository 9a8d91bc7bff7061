"""QA stage: retrieve, fuse, answer, cite."""

from citeqa.qa.engine import Engine
from citeqa.qa.retrieve import BM25Retriever, DenseRetriever, HybridRetriever, Retriever
from citeqa.qa.types import Answer, Hit

__all__ = ["Answer", "BM25Retriever", "DenseRetriever", "Engine", "Hit", "HybridRetriever", "Retriever"]
