"""The offline corpus and the two tokenizers of aie.text."""

from __future__ import annotations

import pytest

from aie.text import (
    BytePairTokenizer,
    CharTokenizer,
    Document,
    join_documents,
    load_documents,
    pre_tokenize,
    split_documents,
)


@pytest.fixture(scope="module")
def documents() -> list[Document]:
    return load_documents()


def test_corpus_is_offline_sizeable_and_fixed(documents: list[Document]) -> None:
    assert len(documents) > 50
    assert sum(len(d.text) for d in documents) > 500_000
    assert any(d.name == "source:textwrap" for d in documents) and any(d.name.startswith("pydoc:") for d in documents)
    assert [d.name for d in load_documents()] == [d.name for d in documents]


def test_unknown_module_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no Python source"):
        load_documents(["sys"])


def test_split_is_by_whole_document_and_deterministic(documents: list[Document]) -> None:
    train, validation = split_documents(documents, validation_fraction=0.1, seed=3)
    assert len(train) + len(validation) == len(documents)
    assert not {d.name for d in train} & {d.name for d in validation}
    assert 0 < len(validation) < len(documents) / 5
    assert split_documents(documents, 0.1, seed=3) == (train, validation)
    assert split_documents(documents, 0.1, seed=4) != (train, validation)
    with pytest.raises(ValueError):
        split_documents(documents, validation_fraction=1.0)
    two = [Document("a", "x"), Document("b", "y")]
    assert [len(part) for part in split_documents(two, 0.9)] == [1, 1]


def test_char_tokenizer_round_trips_and_maps_unseen_characters_to_unknown() -> None:
    tokenizer = CharTokenizer("hello world")
    assert tokenizer.vocab_size == len(set("hello world")) + 1
    assert tokenizer.decode(tokenizer.encode("hello")) == "hello"
    ids = tokenizer.encode("hez")
    assert tokenizer.decode(ids) == "he\ufffd" and tokenizer.count_unknown("hez") == 1
    rare = CharTokenizer("aaab", min_count=2)
    assert rare.decode(rare.encode("ab")) == "a\ufffd"
    with pytest.raises(ValueError):
        CharTokenizer("abc", unknown="??")


def test_pre_tokenize_keeps_every_character() -> None:
    text = "def f(x):\n    return x  + 1  # café\n\n"
    chunks = pre_tokenize(text)
    assert "".join(chunks) == text
    assert " return" in chunks


def test_bpe_learns_the_frequent_pair_first_and_round_trips() -> None:
    tokenizer = BytePairTokenizer.train("aaabdaaabac " * 3, num_merges=3)
    assert tokenizer.merges[0] == (ord("a"), ord("a"))
    assert tokenizer.vocab[256] == b"aa"
    text = "abracadabra aaab, naïve 数字"
    assert tokenizer.decode(tokenizer.encode(text)) == text
    assert len(tokenizer.encode("aaab")) < len("aaab")
    assert tokenizer.vocab_size == 256 + len(tokenizer.merges)


def test_bpe_is_deterministic_compresses_and_stops_when_nothing_repeats(documents: list[Document]) -> None:
    text = join_documents(documents[:20])
    first = BytePairTokenizer.train(text, num_merges=60)
    assert first.merges == BytePairTokenizer.train(text, num_merges=60).merges
    assert len(first.encode(text)) < 0.75 * len(text.encode("utf-8"))
    assert BytePairTokenizer.train("abcdef", num_merges=10).merges == []
    rebuilt = BytePairTokenizer(first.merges)
    assert rebuilt.encode(text[:500]) == first.encode(text[:500])
    assert "".join(first.token_strings(first.encode("the value"))) == "the value"
