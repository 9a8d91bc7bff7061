"""The three Milvus collections of an index: passages (dense + BM25), sentences, meta."""

from __future__ import annotations

from typing import Any

from citeqa.index.milvus.client import ANALYZER, MilvusSettings

MAX_TEXT_BYTES = 65_535  # Milvus VARCHAR limit
MAX_KEY = 1024


def create_collections(client: Any, ms: MilvusSettings, dim: int) -> None:
    """Create whichever of the three collections is missing (an interrupted first build left some)."""
    from pymilvus import DataType, Function, FunctionType

    passages, sentences, meta = ms.names()
    vector_index = {"FLAT": {}, "HNSW": {"M": 16, "efConstruction": 200}, "IVF_FLAT": {"nlist": 1024}}
    if not client.has_collection(passages):
        s = client.create_schema(auto_id=False)
        s.add_field("id", DataType.VARCHAR, is_primary=True, max_length=4096)
        s.add_field("source", DataType.VARCHAR, max_length=4096)
        s.add_field("section", DataType.VARCHAR, max_length=MAX_TEXT_BYTES)
        s.add_field("label", DataType.VARCHAR, max_length=4096)
        s.add_field("text", DataType.VARCHAR, max_length=MAX_TEXT_BYTES)
        s.add_field(
            "lexical", DataType.VARCHAR, max_length=MAX_TEXT_BYTES, enable_analyzer=True, analyzer_params=ANALYZER
        )
        s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        s.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        for name in ("start", "end", "page"):
            s.add_field(name, DataType.INT64)
        s.add_function(
            Function(
                name="bm25",
                function_type=FunctionType.BM25,
                input_field_names=["lexical"],
                output_field_names=["sparse"],
            )
        )
        ip = client.prepare_index_params()
        ip.add_index(
            field_name="vector", index_type=ms.index_type, metric_type="IP", params=vector_index[ms.index_type]
        )
        ip.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        ip.add_index(field_name="source", index_type="INVERTED")  # source filters and per-file deletes
        client.create_collection(passages, schema=s, index_params=ip)
    if not client.has_collection(sentences):
        s = client.create_schema(auto_id=False)
        s.add_field("id", DataType.VARCHAR, is_primary=True, max_length=4200)
        s.add_field("passage_id", DataType.VARCHAR, max_length=4096)
        s.add_field("source", DataType.VARCHAR, max_length=4096)
        s.add_field("start", DataType.INT64)
        s.add_field("end", DataType.INT64)
        s.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        ip = client.prepare_index_params()
        ip.add_index(field_name="vector", index_type="FLAT", metric_type="IP")  # fetched by id, never searched
        ip.add_index(field_name="passage_id", index_type="INVERTED")  # the answerer fetches by passage id
        ip.add_index(field_name="source", index_type="INVERTED")
        client.create_collection(sentences, schema=s, index_params=ip)
    if not client.has_collection(meta):
        s = client.create_schema(auto_id=False)
        s.add_field("key", DataType.VARCHAR, is_primary=True, max_length=MAX_KEY + 64)
        s.add_field("kind", DataType.VARCHAR, max_length=16)  # manifest | source | term | word
        s.add_field("value", DataType.VARCHAR, max_length=MAX_TEXT_BYTES)
        s.add_field("num", DataType.DOUBLE)
        s.add_field("gen", DataType.INT64)
        s.add_field("unused", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field in every collection
        ip = client.prepare_index_params()
        ip.add_index(field_name="unused", index_type="FLAT", metric_type="L2")
        ip.add_index(field_name="kind", index_type="INVERTED")
        client.create_collection(meta, schema=s, index_params=ip)
