"""Generation for RAG: a grounded prompt with numbered citations, and two generators behind one interface.

No generative model ships offline, so :class:`ExtractiveGenerator` is the default: it answers with
the sentences of the numbered sources that share the most words with the question, cites them, and
abstains when nothing matches. :class:`ChatCompletionsGenerator` speaks the OpenAI-compatible
``/v1/chat/completions`` API that llama.cpp's server, Ollama and vLLM also serve: set
``AIE_LLM_BASE_URL`` (and ``AIE_LLM_MODEL``) and :func:`generator_from_env` returns it instead.
Both take the same chat messages, so the pipeline, the citation check and the evaluation do not change.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

Message = dict[str, str]

SYSTEM_PROMPT = (
    "Answer the question using only the numbered sources. Cite every claim with the number of its source in "
    "square brackets, like [2]. If the sources do not contain the answer, say you don't know."
)
ABSTAIN = "I don't know: the sources do not answer this question."
_STOP_WORDS = frozenset(
    "a an and are as at be by do does for from how i in is it its of on or that the this to what when which "
    "with without my me can should each every into so than them then there these they".split()
)
_SOURCE_LINE = re.compile(r"^\[(\d+)\] (.*)$", re.M)
_CITATION = re.compile(r"\[(\d+)\]")


def count_tokens(text: str) -> int:
    """Approximate token count: words and punctuation marks. Swap in the served model's tokenizer for exact budgets."""
    return len(re.findall(r"\w+|[^\w\s]", text))


def build_grounded_prompt(question: str, sources: Sequence[str], budget_tokens: int = 1000) -> list[Message]:
    """Chat messages that number the sources ``[1]..[n]``, keeping the best-ranked ones that fit the budget.

    Sources are added in rank order while the whole prompt stays within ``budget_tokens``; a source that
    does not fit is skipped (a shorter one after it may still fit).
    """
    header = f"Question: {question}\n\nSources:\n"
    used = count_tokens(SYSTEM_PROMPT) + count_tokens(header)
    lines: list[str] = []
    for text in sources:
        line = f"[{len(lines) + 1}] {text}"
        cost = count_tokens(line)
        if used + cost <= budget_tokens:
            lines.append(line)
            used += cost
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": header + "\n".join(lines)}]


def cited_sources(answer: str) -> list[int]:
    """The source numbers an answer cites, in order of first citation."""
    return list(dict.fromkeys(int(n) for n in _CITATION.findall(answer)))


@dataclass(frozen=True)
class CitationReport:
    """What an answer cites: ``invalid`` are numbers that name no source given to the model."""

    cited: list[int]
    invalid: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.cited) and not self.invalid


def check_citations(answer: str, n_sources: int) -> CitationReport:
    """Check that an answer cites at least one source and only sources ``1..n_sources``."""
    cited = cited_sources(answer)
    return CitationReport(cited, [n for n in cited if not 1 <= n <= n_sources])


class Generator(Protocol):
    """Anything that turns chat messages into an answer."""

    def complete(self, messages: list[Message]) -> str: ...


def _content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9_]+", text.lower()) if w not in _STOP_WORDS and len(w) > 1}


@dataclass
class ExtractiveGenerator:
    """Deterministic offline generator: quote the ``max_sentences`` best-matching source sentences, cited."""

    max_sentences: int = 2
    min_overlap: int = 1

    def complete(self, messages: list[Message]) -> str:
        prompt = messages[-1]["content"]
        question = prompt.split("\n", 1)[0].removeprefix("Question: ")
        wanted = _content_words(question)
        candidates = []
        for number, text in _SOURCE_LINE.findall(prompt):
            body = text.split(": ", 1)[-1]  # drop the "doc.id: " prefix of a passage
            for position, sentence in enumerate(re.split(r"(?<=[.!?])\s+", body)):
                overlap = len(wanted & _content_words(sentence))
                if overlap >= self.min_overlap:
                    candidates.append((-overlap, int(number), position, sentence.strip()))
        if not candidates:
            return ABSTAIN
        best = sorted(candidates)[: self.max_sentences]
        return " ".join(f"{sentence} [{number}]" for _, number, _, sentence in best)


@dataclass
class ChatCompletionsGenerator:
    """Client for an OpenAI-compatible chat-completions server (llama.cpp, Ollama, vLLM, a hosted API)."""

    base_url: str
    model: str
    api_key: str | None = None
    temperature: float = 0.0
    timeout_s: float = 60.0
    transport: object | None = None  # an httpx transport, for tests

    def complete(self, messages: list[Message]) -> str:
        import httpx

        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        with httpx.Client(timeout=self.timeout_s, transport=self.transport) as client:
            response = client.post(
                f"{self.base_url.rstrip('/')}/chat/completions",
                json={"model": self.model, "messages": messages, "temperature": self.temperature},
                headers=headers,
            )
            response.raise_for_status()
            return response.json()["choices"][0]["message"]["content"]


def generator_from_env() -> Generator:
    """The server named by ``AIE_LLM_BASE_URL`` (e.g. ``http://localhost:11434/v1``), else the offline default."""
    base_url = os.environ.get("AIE_LLM_BASE_URL")
    if not base_url:
        return ExtractiveGenerator()
    return ChatCompletionsGenerator(base_url, os.environ.get("AIE_LLM_MODEL", "local-model"),
                                    api_key=os.environ.get("AIE_LLM_API_KEY"))
