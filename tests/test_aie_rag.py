"""aie.rag: the corpus, the golden set, the embeddings artifact, retrieval metrics and generation.

The artifact tests are the guard against a stale index: if the corpus, the chunking, the golden set
or the model changes, they fail with the command that rebuilds the artifacts.
"""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import numpy as np
import pytest

from aie.rag.corpus import (
    CHUNK_WORDS,
    Document,
    chunk_words,
    library_versions,
    load_documents,
    load_golden,
    load_passages,
    make_passages,
    passages_hash,
)
from aie.rag.generate import (
    ABSTAIN,
    ChatCompletionsGenerator,
    ExtractiveGenerator,
    build_grounded_prompt,
    check_citations,
    count_tokens,
    generator_from_env,
)
from aie.rag.index import (
    EMBEDDINGS_PATH,
    MODEL_NAME,
    QUESTION_VECTORS_PATH,
    REBUILD_COMMAND,
    StaleArtifactError,
    load_embeddings,
    load_question_vectors,
    read_artifact,
)
from aie.rag.search import (
    BM25Index,
    DenseIndex,
    doc_ranking,
    evaluate,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
    reciprocal_rank_fusion,
    top_k,
)

# Golden-set scores measured when the artifacts were built. A change that lowers one by more than
# two questions' worth fails here: update the numbers deliberately, in the same commit as the change.
BASELINE = {
    "dense": {"recall@5": 0.841, "MRR": 0.786},
    "bm25": {"recall@5": 0.863, "MRR": 0.759},
    "hybrid": {"recall@5": 0.885, "MRR": 0.817},
}


@pytest.fixture(scope="module")
def passages():
    return load_passages()


@pytest.fixture(scope="module")
def golden():
    return load_golden()


# ---------------------------------------------------------------- corpus and golden set


def test_corpus_is_sized_for_a_laptop(passages) -> None:
    documents = load_documents()
    assert 2000 <= len(documents) <= 3000
    assert {d.library for d in documents} == {"python", "numpy", "sklearn"}
    assert len({d.id for d in documents}) == len(documents), "document ids are unique"
    assert 2000 <= len(passages) <= 4000
    assert all(p.text.startswith(p.doc_id + ": ") for p in passages), "each passage names its document"


def _without_hooks(documents) -> list:
    # pytest replaces sys.unraisablehook and threading.excepthook while it runs, which changes what they harvest to.
    return [d for d in documents if not d.id.endswith("hook")]


def harvest_in_a_fresh_process() -> list:
    # Imports change what is harvested (importing peft rewrites some numpy docstrings), and `build-index`
    # harvests in a process of its own: so must the test, whatever this worker imported before.
    code = ("import dataclasses, json; from aie.rag.corpus import harvest; "
            "print(json.dumps([dataclasses.asdict(d) for d in harvest()]))")
    output = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return [Document(**row) for row in json.loads(output)]


@pytest.mark.slow
def test_harvest_reproduces_the_stored_corpus() -> None:
    stored = _without_hooks(load_documents())
    fresh = _without_hooks(harvest_in_a_fresh_process())
    recorded = read_artifact().versions
    current = library_versions()
    for library in ("numpy", "sklearn", "python"):
        if library == "python" and recorded["python"] != current["python"]:
            continue  # standard-library docstrings follow the Python patch release, which the lock does not pin
        assert [d for d in fresh if d.library == library] == [d for d in stored if d.library == library], (
            f"the {library} docstrings changed ({recorded[library]} -> {current[library]}): run {REBUILD_COMMAND}"
        )


def test_golden_set_answers_exist_in_the_corpus(golden) -> None:
    ids = {d.id for d in load_documents()}
    assert len(golden) >= 50
    assert len({q["id"] for q in golden}) == len(golden)
    assert {q["kind"] for q in golden} == {"paraphrase", "exact-name"}
    for q in golden:
        assert q["question"].strip() and q["answers"], q
        missing = [a for a in q["answers"] if a not in ids]
        assert not missing, f"{q['id']} names documents that are not in the corpus: {missing}"


# ---------------------------------------------------------------- the versioned artifacts


def test_embeddings_artifact_matches_the_corpus_and_model(passages) -> None:
    artifact = read_artifact()
    assert artifact.model_name == MODEL_NAME, f"built with {artifact.model_name}: run {REBUILD_COMMAND}"
    assert artifact.passages_sha256 == passages_hash(passages), (
        f"{EMBEDDINGS_PATH.name} embeds other passages than the corpus now gives: run {REBUILD_COMMAND}")
    assert artifact.passage_ids == [p.id for p in passages]
    assert artifact.vectors.shape == (len(passages), 384)
    assert np.allclose(np.linalg.norm(artifact.vectors, axis=1), 1.0, atol=2e-3), "unit vectors"
    assert EMBEDDINGS_PATH.stat().st_size < 4 * 2**20, "keep the artifact under 4 MB"


def test_question_vectors_match_the_golden_set(golden) -> None:
    vectors = load_question_vectors()
    assert list(vectors) == [q["id"] for q in golden]
    assert QUESTION_VECTORS_PATH.stat().st_size < 2**20


def test_stale_artifact_is_refused_with_the_rebuild_command(passages) -> None:
    changed = passages[:-1]
    with pytest.raises(StaleArtifactError, match="build-index"):
        load_embeddings(passages=changed)


# ---------------------------------------------------------------- chunking


@pytest.mark.parametrize(("n_words", "size", "overlap"), [(0, 5, 1), (1, 5, 1), (5, 5, 1), (6, 5, 1), (37, 8, 3),
                                                          (40, 10, 0)])
def test_chunks_cover_the_text_with_the_overlap(n_words: int, size: int, overlap: int) -> None:
    words = [f"w{i}" for i in range(n_words)]
    chunks = chunk_words(" ".join(words), size, overlap)
    assert len(chunks) == (0 if n_words == 0 else max(1, -(-(n_words - overlap) // (size - overlap))))
    rebuilt = chunks[0].split() if chunks else []
    for previous, chunk in zip(chunks, chunks[1:], strict=False):
        assert previous.split()[-overlap:] == chunk.split()[:overlap] or overlap == 0
        rebuilt += chunk.split()[overlap:]
    assert rebuilt == words
    assert all(len(c.split()) <= size for c in chunks)


def test_chunk_rejects_bad_overlap() -> None:
    with pytest.raises(ValueError):
        chunk_words("a b c", 3, 3)


def test_make_passages_caps_chunks_per_document() -> None:
    doc = Document("m.f", "python", "m", "function", " ".join(["word"] * 1000))
    passages = make_passages([doc], size=CHUNK_WORDS, overlap=0, max_chunks=3)
    assert [p.id for p in passages] == ["m.f#0", "m.f#1", "m.f#2"]


# ---------------------------------------------------------------- retrieval and metrics


def test_metrics_on_a_small_example() -> None:
    ranking = ["a", "b", "c", "d"]
    assert recall_at_k(ranking, {"b", "z"}, 2) == 0.5
    assert reciprocal_rank(ranking, {"c"}) == pytest.approx(1 / 3)
    assert reciprocal_rank(ranking, {"z"}) == 0.0
    assert ndcg_at_k(ranking, {"a"}, 10) == 1.0


def test_ndcg_matches_scikit_learn() -> None:
    from sklearn.metrics import ndcg_score

    rng = np.random.default_rng(0)
    for _ in range(10):
        ranking = [str(i) for i in rng.permutation(20)]
        relevant = {str(i) for i in rng.choice(20, size=3, replace=False)}
        truth = np.array([[1.0 if d in relevant else 0.0 for d in ranking]])
        scores = np.array([np.arange(len(ranking), 0, -1, dtype=float)])
        assert ndcg_at_k(ranking, relevant, 10) == pytest.approx(ndcg_score(truth, scores, k=10))


def test_reciprocal_rank_fusion() -> None:
    assert reciprocal_rank_fusion([["a", "b", "c"], ["c", "d", "a"]]) == ["a", "c", "b", "d"]
    assert reciprocal_rank_fusion([]) == []


def test_top_k_and_doc_ranking(passages) -> None:
    scores = np.array([0.1, 0.9, 0.5, 0.7])
    assert top_k(scores, 2).tolist() == [1, 3]
    assert top_k(scores, 10).tolist() == [1, 3, 2, 0]
    first = [i for i, p in enumerate(passages) if p.doc_id == passages[0].doc_id]
    assert doc_ranking(first + [len(passages) - 1], passages) == [passages[0].doc_id, passages[-1].doc_id]


def test_bm25_finds_an_exact_identifier(passages) -> None:
    index = BM25Index([p.text for p in passages])
    assert doc_ranking(index.search("savez_compressed", 5), passages)[0] == "numpy.savez_compressed"
    assert index.search("the of and", 5).size == 0


@pytest.mark.slow
def test_golden_set_scores_do_not_regress(passages, golden) -> None:
    dense_index = DenseIndex(load_embeddings(passages=passages).vectors)
    question_vectors = load_question_vectors()
    bm25 = BM25Index([p.text for p in passages])
    rankings = {"dense": {}, "bm25": {}, "hybrid": {}}
    for q in golden:
        rankings["dense"][q["id"]] = doc_ranking(dense_index.search(question_vectors[q["id"]], 50), passages)
        rankings["bm25"][q["id"]] = doc_ranking(bm25.search(q["question"], 50), passages)
        rankings["hybrid"][q["id"]] = reciprocal_rank_fusion([rankings["dense"][q["id"]], rankings["bm25"][q["id"]]])
    tolerance = 2 / len(golden)
    for name, baseline in BASELINE.items():
        scores = evaluate(rankings[name], golden)
        for metric, value in baseline.items():
            assert scores[metric] >= value - tolerance, f"{name} {metric} fell from {value:.3f} to {scores[metric]:.3f}"


# ---------------------------------------------------------------- generation


SOURCES = [
    "sklearn.model_selection.StratifiedKFold: Stratified K-Fold cross-validator. The folds preserve the percentage "
    "of samples for each class.",
    "sklearn.model_selection.KFold: K-Fold cross-validator. Split dataset into k consecutive folds.",
]


def test_prompt_respects_the_budget_and_numbers_sources() -> None:
    messages = build_grounded_prompt("Which splitter keeps class proportions?", SOURCES, budget_tokens=10_000)
    user = messages[-1]["content"]
    assert "[1] sklearn.model_selection.StratifiedKFold" in user and "[2] sklearn.model_selection.KFold" in user
    small = build_grounded_prompt("Which splitter keeps class proportions?", SOURCES, budget_tokens=95)
    assert sum(count_tokens(m["content"]) for m in small) <= 95
    assert "[1]" in small[-1]["content"] and "[2]" not in small[-1]["content"]


def test_extractive_generator_cites_and_abstains() -> None:
    generator = ExtractiveGenerator()
    messages = build_grounded_prompt("Which folds preserve the percentage of samples for each class?", SOURCES)
    answer = generator.complete(messages)
    assert "[1]" in answer and check_citations(answer, 2).ok
    assert generator.complete(build_grounded_prompt("zebra quokka", SOURCES)) == ABSTAIN
    assert generator.complete(messages) == answer, "deterministic"


def test_citation_check_flags_unknown_sources() -> None:
    report = check_citations("It works [1]. Also [3].", n_sources=2)
    assert report.cited == [1, 3] and report.invalid == [3] and not report.ok
    assert not check_citations("No citation here.", 2).ok


def test_chat_completions_client_speaks_the_openai_api() -> None:
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["url"] = str(request.url)
        seen["body"] = json.loads(request.content)
        seen["auth"] = request.headers.get("authorization")
        return httpx.Response(200, json={"choices": [{"message": {"role": "assistant", "content": "Use it [1]."}}]})

    generator = ChatCompletionsGenerator("http://localhost:8080/v1/", "tiny", api_key="k",
                                         transport=httpx.MockTransport(handler))
    messages = build_grounded_prompt("q?", SOURCES)
    assert generator.complete(messages) == "Use it [1]."
    assert seen["url"] == "http://localhost:8080/v1/chat/completions"
    assert seen["body"]["model"] == "tiny" and seen["body"]["messages"] == messages
    assert seen["auth"] == "Bearer k"


def test_generator_from_env(monkeypatch) -> None:
    monkeypatch.delenv("AIE_LLM_BASE_URL", raising=False)
    assert isinstance(generator_from_env(), ExtractiveGenerator)
    monkeypatch.setenv("AIE_LLM_BASE_URL", "http://localhost:11434/v1")
    monkeypatch.setenv("AIE_LLM_MODEL", "qwen")
    generator = generator_from_env()
    assert isinstance(generator, ChatCompletionsGenerator) and generator.model == "qwen"
