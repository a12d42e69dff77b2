"""Offline text and tokenizers for the language-model modules.

The corpus is text that ships with every Python installation: the reference
documentation bundled in ``pydoc_data.topics`` (what ``help("with")`` prints)
and the source of a fixed list of standard-library modules. Nothing downloads.

Two tokenizers are written out in full so that nothing about them is magic: a
character tokenizer with an explicit unknown character (its vocabulary is a data
contract), and a byte-level byte-pair encoding (BPE) trained on the corpus.
"""

from __future__ import annotations

import heapq
import importlib.util
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

# Standard-library modules whose source joins the corpus: plain, well-commented Python.
DEFAULT_STDLIB_MODULES: tuple[str, ...] = (
    "bisect", "calendar", "colorsys", "contextlib", "csv", "dataclasses", "difflib", "enum", "fractions",
    "functools", "glob", "heapq", "json.decoder", "json.encoder", "queue", "random", "shlex", "statistics",
    "string", "textwrap",
)  # fmt: skip


@dataclass(frozen=True)
class Document:
    """One document of the corpus: a pydoc topic or one module's source."""

    name: str
    text: str


def load_documents(stdlib_modules: Sequence[str] = DEFAULT_STDLIB_MODULES) -> list[Document]:
    """The corpus as documents: every ``pydoc_data.topics`` entry, then each listed module's source.

    The order is fixed (topics sorted by name, modules in the order given), so
    the same Python version always yields the same corpus.
    """
    from pydoc_data.topics import topics

    documents = [Document(f"pydoc:{name}", topics[name]) for name in sorted(topics)]
    for module in stdlib_modules:
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            raise ValueError(f"{module!r} has no Python source in this installation")
        documents.append(Document(f"source:{module}", Path(spec.origin).read_text(encoding="utf-8")))
    return documents


def split_documents(
    documents: Sequence[Document], validation_fraction: float = 0.1, seed: int = 0
) -> tuple[list[Document], list[Document]]:
    """Split whole documents (never characters of one document) into training and validation sets.

    Windows cut from one document overlap and share phrases, so a split by
    position inside a document would leak; a split by document measures how the
    model does on text it has never seen. Each set gets at least one document.
    """
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must lie strictly between 0 and 1, got {validation_fraction}")
    if len(documents) < 2:
        raise ValueError("need at least two documents to split")
    order = list(range(len(documents)))
    random.Random(seed).shuffle(order)
    n_validation = min(max(1, round(validation_fraction * len(documents))), len(documents) - 1)
    validation = set(order[:n_validation])
    train = [d for i, d in enumerate(documents) if i not in validation]
    return train, [d for i, d in enumerate(documents) if i in validation]


def join_documents(documents: Iterable[Document], separator: str = "\n\n") -> str:
    """Concatenate documents into one training string."""
    return separator.join(d.text for d in documents)


class CharTokenizer:
    """One token per character, over the characters of a training text plus an unknown character.

    Characters seen fewer than ``min_count`` times in the training text are left out of the vocabulary.

    A character that the training text never contained maps to ``unknown``: the
    vocabulary is fixed at training time, and the model cannot take ids it has
    no embedding for.
    """

    def __init__(self, text: str, unknown: str = "\ufffd", min_count: int = 1) -> None:
        if len(unknown) != 1:
            raise ValueError("unknown must be a single character")
        self.unknown = unknown
        # A character seen fewer than min_count times gets no embedding of its own: too few examples to learn one.
        kept = {c for c, n in Counter(text).items() if n >= min_count}
        self.chars: list[str] = sorted(kept | {unknown})
        self.index: dict[str, int] = {c: i for i, c in enumerate(self.chars)}

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        unknown_id = self.index[self.unknown]
        return [self.index.get(c, unknown_id) for c in text]

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.chars[i] for i in ids)

    def count_unknown(self, text: str) -> int:
        """How many characters of ``text`` fall outside the vocabulary."""
        return sum(c not in self.index for c in text)


# GPT-2's pre-tokenisation, simplified: words with their leading space, numbers, punctuation runs,
# whitespace. Merges never cross these chunks, so a token never spans two words.
_CHUNK_PATTERN = re.compile(r" ?[A-Za-z_]+| ?[0-9]+| ?[^\sA-Za-z0-9_]+|\s+(?!\S)|\s+")


def pre_tokenize(text: str) -> list[str]:
    """Split text into the chunks that BPE merges inside of; the chunks concatenate back to ``text``."""
    return _CHUNK_PATTERN.findall(text)


class BytePairTokenizer:
    """Byte-level byte-pair encoding: start from the 256 byte values, then learn merges.

    Training repeatedly finds the most frequent adjacent pair of tokens (counted
    inside pre-tokenised chunks, weighted by how often each chunk occurs) and
    gives it a new id. Ties go to the smaller pair, so training is deterministic.
    Every byte is in the base vocabulary, so nothing is ever unknown.
    """

    def __init__(self, merges: Sequence[tuple[int, int]] = ()) -> None:
        self.merges: list[tuple[int, int]] = [tuple(m) for m in merges]  # type: ignore[misc]
        self.ranks: dict[tuple[int, int], int] = {pair: rank for rank, pair in enumerate(self.merges)}
        self.vocab: dict[int, bytes] = {i: bytes([i]) for i in range(256)}
        for rank, (a, b) in enumerate(self.merges):
            self.vocab[256 + rank] = self.vocab[a] + self.vocab[b]
        self._chunk_cache: dict[str, tuple[int, ...]] = {}

    @property
    def vocab_size(self) -> int:
        return 256 + len(self.merges)

    @classmethod
    def train(cls, text: str, num_merges: int) -> BytePairTokenizer:
        """Learn ``num_merges`` merges from ``text`` (fewer if no pair occurs twice any more)."""
        chunk_counts = Counter(pre_tokenize(text))
        words = [list(chunk.encode("utf-8")) for chunk in chunk_counts]
        counts = list(chunk_counts.values())
        # Pair counts are kept up to date incrementally: a merge changes only the words that hold the pair.
        pair_counts: Counter[tuple[int, int]] = Counter()
        words_with: dict[tuple[int, int], set[int]] = {}
        for index, (word, count) in enumerate(zip(words, counts, strict=True)):
            for pair in zip(word, word[1:], strict=False):
                pair_counts[pair] += count
                words_with.setdefault(pair, set()).add(index)
        # A heap of (-count, pair) finds the most frequent pair fast; stale entries are skipped when popped.
        heap = [(-count, pair) for pair, count in pair_counts.items()]
        heapq.heapify(heap)
        merges: list[tuple[int, int]] = []
        while len(merges) < num_merges and heap:
            negative_count, best = heapq.heappop(heap)
            if -negative_count != pair_counts.get(best, 0):
                continue
            if -negative_count < 2:
                break
            new_id = 256 + len(merges)
            merges.append(best)
            touched: set[tuple[int, int]] = set()
            for index in words_with.pop(best, set()):
                word, count = words[index], counts[index]
                for pair in zip(word, word[1:], strict=False):
                    pair_counts[pair] -= count
                    touched.add(pair)
                merged = _merge(word, best, new_id)
                for pair in zip(merged, merged[1:], strict=False):
                    pair_counts[pair] += count
                    words_with.setdefault(pair, set()).add(index)
                    touched.add(pair)
                words[index] = merged
            for pair in touched:
                if pair_counts[pair] > 0:
                    heapq.heappush(heap, (-pair_counts[pair], pair))
                else:
                    del pair_counts[pair]
        return cls(merges)

    def _encode_chunk(self, chunk: str) -> tuple[int, ...]:
        cached = self._chunk_cache.get(chunk)
        if cached is not None:
            return cached
        ids = list(chunk.encode("utf-8"))
        while len(ids) > 1:
            # Apply the earliest-learned merge present, as training did.
            pair = min(zip(ids, ids[1:], strict=False), key=lambda p: self.ranks.get(p, len(self.ranks)))
            if pair not in self.ranks:
                break
            ids = _merge(ids, pair, 256 + self.ranks[pair])
        self._chunk_cache[chunk] = tuple(ids)
        return self._chunk_cache[chunk]

    def encode(self, text: str) -> list[int]:
        return [i for chunk in pre_tokenize(text) for i in self._encode_chunk(chunk)]

    def decode(self, ids: Iterable[int]) -> str:
        return b"".join(self.vocab[i] for i in ids).decode("utf-8", errors="replace")

    def token_strings(self, ids: Iterable[int]) -> list[str]:
        """Each token as readable text (a partial UTF-8 character shows as the replacement character)."""
        return [self.vocab[i].decode("utf-8", errors="replace") for i in ids]


def _merge(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    out: list[int] = []
    i = 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out
