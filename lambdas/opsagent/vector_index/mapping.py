"""The vector index Bedrock writes to: one definition, shared by the infra construct (which sends it to
the bootstrap Lambda and hashes it into the invocation's triggers) and the Lambda (which creates it).

Field names follow the defaults of the Bedrock console's "quick create" (so the index looks like one
Bedrock would make): vector ``bedrock-knowledge-base-default-vector`` (knn_vector, faiss + HNSW,
euclidean, M 16, ef_construction 512), text ``AMAZON_BEDROCK_TEXT_CHUNK`` (searchable), metadata
``AMAZON_BEDROCK_METADATA`` (stored, not indexed). Titan Text Embeddings v2 produces 1024 dimensions
by default.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

INDEX_NAME = "opsagent-runbooks"
VECTOR_FIELD = "bedrock-knowledge-base-default-vector"
TEXT_FIELD = "AMAZON_BEDROCK_TEXT_CHUNK"
METADATA_FIELD = "AMAZON_BEDROCK_METADATA"
EMBEDDING_MODEL_ID = "amazon.titan-embed-text-v2:0"
DIMENSION = 1024  # Titan Text Embeddings v2 default (256 and 512 are the other choices)


def index_body(
    dimension: int = DIMENSION,
    *,
    vector_field: str = VECTOR_FIELD,
    text_field: str = TEXT_FIELD,
    metadata_field: str = METADATA_FIELD,
    m: int = 16,
    ef_construction: int = 512,
    ef_search: int = 512,
) -> dict[str, Any]:
    """The ``PUT /<index>`` body: k-NN enabled, one faiss/HNSW vector field, text and metadata fields."""
    if dimension not in (256, 512, 1024):
        raise ValueError(f"Titan Text Embeddings v2 produces 256, 512 or 1024 dimensions, not {dimension}")
    return {
        "settings": {"index": {"knn": True, "knn.algo_param.ef_search": ef_search}},
        "mappings": {
            "properties": {
                vector_field: {
                    "type": "knn_vector",
                    "dimension": dimension,
                    "method": {
                        "name": "hnsw",
                        "engine": "faiss",
                        "space_type": "l2",
                        "parameters": {"m": m, "ef_construction": ef_construction},
                    },
                },
                text_field: {"type": "text"},
                metadata_field: {"type": "text", "index": False},
            }
        },
    }


def canonical_json(body: Any) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def definition_hash(index_name: str, body: dict[str, Any]) -> str:
    """Changes when the index name or definition changes (the invocation's trigger)."""
    return hashlib.sha256(f"{index_name}\n{canonical_json(body)}".encode()).hexdigest()


def vector_dimension(body: dict[str, Any], vector_field: str = VECTOR_FIELD) -> int | None:
    """The dimension of ``vector_field`` in an index body or a ``GET /<index>/_mapping`` answer."""
    props = (body.get("mappings") or {}).get("properties") or {}
    field = props.get(vector_field) or {}
    value = field.get("dimension")
    return int(value) if isinstance(value, int) else None
