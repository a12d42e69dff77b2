"""The cached passage embeddings: a versioned artifact, built once, loaded by every notebook.

Embedding the 3,300 passages with all-MiniLM-L6-v2 takes minutes on a 2-core laptop, so
``python -m aie.rag build-index`` does it once and writes ``data/embeddings.npz``: float16
unit vectors (2.6 MB) plus the hash of the passages they embed and the name of the model.
:func:`load_embeddings` refuses a stale artifact, and a unit test fails CI with the command
to rebuild it: a silently stale index is the commonest RAG bug in production.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aie.rag.corpus import DATA_DIR, GOLDEN_PATH, Passage, library_versions, load_passages, passages_hash

EMBEDDINGS_PATH = DATA_DIR / "embeddings.npz"
QUESTION_VECTORS_PATH = DATA_DIR / "golden_vectors.npz"
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
REBUILD_COMMAND = "python -m aie.rag build-index"


class StaleArtifactError(RuntimeError):
    """The embeddings artifact does not match the current passages or model."""


@dataclass(frozen=True)
class EmbeddingArtifact:
    """Unit-normalised passage vectors (float32 in memory) and what they were built from."""

    vectors: np.ndarray
    passage_ids: list[str]
    model_name: str
    passages_sha256: str
    versions: dict[str, str]


def encode(texts: list[str], batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
    """Embed texts with the bundled MiniLM: unit vectors, float32, shape ``(len(texts), 384)``."""
    from aie.models import load_sentence_encoder

    model = load_sentence_encoder()
    return model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                        show_progress_bar=show_progress).astype(np.float32)


def build_embeddings(path: Path = EMBEDDINGS_PATH, show_progress: bool = True) -> EmbeddingArtifact:
    """Embed every passage of the stored corpus and write the artifact (minutes on a laptop)."""
    passages = load_passages()
    # Longest first: batches of similar length waste less padding.
    order = sorted(range(len(passages)), key=lambda i: -len(passages[i].text))
    vectors = np.empty((len(passages), 384), dtype=np.float32)
    vectors[order] = encode([passages[i].text for i in order], show_progress=show_progress)
    meta = {"model_name": MODEL_NAME, "passages_sha256": passages_hash(passages), "versions": library_versions()}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, vectors=vectors.astype(np.float16), passage_ids=np.array([p.id for p in passages]),
                        meta=np.array(json.dumps(meta, sort_keys=True)))
    return load_embeddings(path, passages)


def read_artifact(path: Path = EMBEDDINGS_PATH) -> EmbeddingArtifact:
    """Read the artifact without checking it against the corpus."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        vectors = data["vectors"].astype(np.float32)
        ids = [str(i) for i in data["passage_ids"]]
    return EmbeddingArtifact(vectors, ids, meta["model_name"], meta["passages_sha256"], meta["versions"])


def load_embeddings(path: Path = EMBEDDINGS_PATH, passages: list[Passage] | None = None) -> EmbeddingArtifact:
    """Load the artifact and check that it embeds exactly the current passages with the current model."""
    artifact = read_artifact(path)
    passages = passages if passages is not None else load_passages()
    expected = passages_hash(passages)
    if artifact.passages_sha256 != expected or artifact.model_name != MODEL_NAME:
        raise StaleArtifactError(
            f"{path.name} embeds passages {artifact.passages_sha256[:12]} with {artifact.model_name}; the corpus "
            f"now has passages {expected[:12]} and the model is {MODEL_NAME}. Rebuild it: {REBUILD_COMMAND}"
        )
    return artifact


def golden_hash(path: Path = GOLDEN_PATH) -> str:
    """SHA-256 of the golden-set file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_question_vectors(path: Path = QUESTION_VECTORS_PATH) -> dict[str, np.ndarray]:
    """Embed the golden questions (seconds) so that tests and labs can score dense retrieval without the model."""
    from aie.rag.corpus import load_golden

    golden = load_golden()
    vectors = encode([q["question"] for q in golden])
    meta = {"model_name": MODEL_NAME, "golden_sha256": golden_hash()}
    np.savez_compressed(path, vectors=vectors.astype(np.float16), question_ids=np.array([q["id"] for q in golden]),
                        meta=np.array(json.dumps(meta, sort_keys=True)))
    return load_question_vectors(path)


def load_question_vectors(path: Path = QUESTION_VECTORS_PATH) -> dict[str, np.ndarray]:
    """The cached golden-question vectors by question id, checked against the golden file and the model."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        vectors = data["vectors"].astype(np.float32)
        ids = [str(i) for i in data["question_ids"]]
    if meta["golden_sha256"] != golden_hash() or meta["model_name"] != MODEL_NAME:
        raise StaleArtifactError(f"{path.name} does not embed the current golden set with {MODEL_NAME}. "
                                 f"Rebuild it: {REBUILD_COMMAND} --questions-only")
    return dict(zip(ids, vectors, strict=True))
