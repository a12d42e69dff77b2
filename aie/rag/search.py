"""Retrieval and its evaluation: exact dense search, BM25, reciprocal rank fusion, recall@k, MRR and nDCG.

Retrievers return *passage* indices; users and the golden set care about *documents*, so
:func:`doc_ranking` turns a passage ranking into a document ranking (first occurrence wins,
which is max-score aggregation).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from aie.rag.corpus import Passage


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores, best first (argpartition then a sort of only k items)."""
    k = min(k, scores.shape[-1])
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]


class DenseIndex:
    """Exact nearest-neighbour search over unit vectors: one matrix-vector product per query."""

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)

    def search(self, query_vector: np.ndarray, k: int = 10) -> np.ndarray:
        return top_k(self.vectors @ np.asarray(query_vector, dtype=np.float32), k)


def bm25_tokenize(texts: list[str]) -> list[list[str]]:
    """Lower-cased word tokens without English stop words; ``train_test_split`` stays one token."""
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", return_ids=False, show_progress=False)


class BM25Index:
    """Lexical search with BM25 (``bm25s``): exact words, exact identifiers, no model."""

    def __init__(self, texts: list[str]) -> None:
        import bm25s

        self.size = len(texts)
        self.retriever = bm25s.BM25()
        self.retriever.index(bm25_tokenize(texts), show_progress=False)

    def search(self, query: str, k: int = 10) -> np.ndarray:
        tokens = bm25_tokenize([query])
        if not tokens[0]:  # a query of stop words only matches nothing
            return np.arange(0)
        docs, scores = self.retriever.retrieve(tokens, k=min(k, self.size), show_progress=False)
        return docs[0][scores[0] > 0]


def doc_ranking(passage_indices: Iterable[int], passages: Sequence[Passage]) -> list[str]:
    """Document ids in the order their first passage appears (a document scores as its best passage)."""
    ranking: list[str] = []
    seen: set[str] = set()
    for i in passage_indices:
        doc_id = passages[int(i)].doc_id
        if doc_id not in seen:
            seen.add(doc_id)
            ranking.append(doc_id)
    return ranking


def reciprocal_rank_fusion(rankings: Sequence[Sequence[Any]], k: int = 60) -> list[Any]:
    """Fuse rankings by summing ``1 / (k + rank)`` (rank from 1); ties go to the smaller item.

    Uses ranks only, so BM25 scores and cosines need no calibration against each other.
    """
    scores: dict[Any, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores, key=lambda item: (-scores[item], item))


def recall_at_k(ranking: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """Fraction of the relevant documents found in the first ``k`` results."""
    relevant = set(relevant)
    return len(relevant & set(ranking[:k])) / len(relevant) if relevant else 0.0


def reciprocal_rank(ranking: Sequence[str], relevant: Iterable[str]) -> float:
    """``1 / rank`` of the first relevant result, 0 if none is retrieved (MRR is its mean)."""
    relevant = set(relevant)
    return next((1.0 / rank for rank, doc in enumerate(ranking, start=1) if doc in relevant), 0.0)


def ndcg_at_k(ranking: Sequence[str], relevant: Iterable[str], k: int = 10) -> float:
    """Binary-relevance nDCG@k: DCG of the ranking over DCG of the ideal ranking."""
    relevant = set(relevant)
    dcg = sum(1.0 / math.log2(rank + 1) for rank, doc in enumerate(ranking[:k], start=1) if doc in relevant)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(relevant), k) + 1))
    return dcg / ideal if ideal else 0.0


def evaluate(rankings: dict[str, list[str]], golden: list[dict]) -> dict[str, float]:
    """Mean recall@5, recall@10, MRR and nDCG@10 of document rankings over the golden questions."""
    rows = [
        (recall_at_k(rankings[q["id"]], q["answers"], 5), recall_at_k(rankings[q["id"]], q["answers"], 10),
         reciprocal_rank(rankings[q["id"]], q["answers"]), ndcg_at_k(rankings[q["id"]], q["answers"], 10))
        for q in golden
    ]
    means = np.mean(rows, axis=0) if rows else np.zeros(4)
    return dict(zip(("recall@5", "recall@10", "MRR", "nDCG@10"), map(float, means), strict=True))


def latency_ms(search: Callable[[Any], Any], queries: Sequence[Any], repeats: int = 1) -> np.ndarray:
    """Wall time of ``search(query)`` for every query, in milliseconds (one sample per call)."""
    samples = []
    for _ in range(repeats):
        for query in queries:
            start = time.perf_counter()
            search(query)
            samples.append((time.perf_counter() - start) * 1e3)
    return np.array(samples)
