"""QA stage: retrieve, fuse, answer, cite."""

from citeqa.qa.engine import Engine
from citeqa.qa.hits import Answer, Hit
from citeqa.qa.retrieve import BM25Retriever, DenseRetriever, HybridRetriever, Retriever

__all__ = ["Answer", "BM25Retriever", "DenseRetriever", "Engine", "Hit", "HybridRetriever", "Retriever"]
