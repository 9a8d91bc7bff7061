"""The shared retriever suite (tests/fast/test_retrievers.py runs it on the local index) on Milvus Lite."""

from __future__ import annotations

import pytest

from support import RetrieverSuite


class TestMilvusBackend(RetrieverSuite):
    @pytest.fixture
    def engine(self, fake_milvus_engine):
        return fake_milvus_engine
