"""A small, explicit PyTorch training loop that later modules import.

Module 05 writes every piece of this by hand (in the lecture and in the lab);
this file is the packaged version that modules 06 (transformers) and 07 (LoRA)
reuse, so that their notebooks show the model, not the plumbing again.

Batches are ``(inputs, targets)`` pairs. ``inputs`` may be a tensor or a dict
of tensors (a tokenizer's output); pass ``forward=`` when the model needs to be
called differently (for example ``lambda model, x: model(**x).logits``).

>>> seed_everything(0)
>>> history = fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer,
...               epochs=50, patience=5, max_grad_norm=1.0, metrics={"accuracy": accuracy})
>>> history.best_epoch, history.rows[-1]["val_loss"]
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = [
    "EpochStats",
    "History",
    "accuracy",
    "evaluate",
    "fit",
    "global_grad_norm",
    "load_checkpoint",
    "save_checkpoint",
    "seed_everything",
    "to_device",
    "train_epoch",
]

Forward = Callable[[nn.Module, Any], torch.Tensor]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Metric = Callable[[torch.Tensor, torch.Tensor], torch.Tensor | float]


def seed_everything(seed: int, *, deterministic: bool = True) -> torch.Generator:
    """Seed Python, NumPy and torch; optionally make torch refuse nondeterministic kernels.

    Returns a ``torch.Generator`` seeded with ``seed``: hand it to a
    ``DataLoader(..., shuffle=True, generator=...)`` so that the data order is
    reproducible and can be checkpointed on its own. ``deterministic=True``
    makes torch raise on the few operations that have no deterministic
    implementation (mostly on GPUs) instead of silently varying between runs.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(deterministic)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def to_device(obj: Any, device: torch.device | str | None) -> Any:
    """Move a tensor, or the tensors inside a dict, list or tuple, to ``device`` (``None``: leave them)."""
    if device is None:
        return obj
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, Mapping):
        return {key: to_device(value, device) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(value, device) for value in obj)
    return obj


def _default_forward(model: nn.Module, inputs: Any) -> torch.Tensor:
    return model(**inputs) if isinstance(inputs, Mapping) else model(inputs)


def _batch_size(targets: torch.Tensor) -> int:
    return int(targets.shape[0]) if targets.ndim else 1


def global_grad_norm(parameters: Iterable[torch.Tensor]) -> float:
    """The L2 norm of all gradients taken together, as if concatenated into one vector (``None`` grads skipped)."""
    squares = [p.grad.detach().pow(2).sum() for p in parameters if p.grad is not None]
    if not squares:
        return 0.0
    return float(torch.stack(squares).sum().sqrt())


def accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Fraction of rows of ``outputs`` (logits, one column per class) whose argmax equals ``targets``."""
    return (outputs.argmax(dim=-1) == targets).float().mean()


@dataclass
class EpochStats:
    """What one training epoch did: per-example mean loss, step-wise gradient norms, and its speed."""

    loss: float
    examples: int
    seconds: float
    grad_norms: list[float] = field(default_factory=list)

    @property
    def examples_per_second(self) -> float:
        return self.examples / self.seconds if self.seconds > 0 else math.inf


def train_epoch(
    model: nn.Module,
    loader: Iterable[Any],
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    *,
    max_grad_norm: float | None = None,
    scheduler: Any | None = None,
    forward: Forward | None = None,
    device: torch.device | str | None = None,
    progress: bool = False,
    desc: str = "train",
) -> EpochStats:
    """Run one epoch of training and return its :class:`EpochStats`.

    ``loss_fn`` must average over the batch (PyTorch's default ``reduction="mean"``);
    the epoch's loss is weighted by batch size, so a short last batch counts for
    what it holds. ``grad_norms`` are the global gradient norms *before* clipping
    to ``max_grad_norm``: spikes in them are the early warning of a divergence.
    ``scheduler.step()``, if given, is called after every optimiser step.
    """
    forward = forward or _default_forward
    model.train()
    total_loss, examples, grad_norms = 0.0, 0, []
    batches = loader
    if progress:
        from tqdm.auto import tqdm

        batches = tqdm(loader, desc=desc, leave=False)
    start = time.perf_counter()
    for inputs, targets in batches:
        inputs, targets = to_device(inputs, device), to_device(targets, device)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(forward(model, inputs), targets)
        loss.backward()
        if max_grad_norm is not None:
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
            grad_norms.append(float(norm))
        else:
            grad_norms.append(global_grad_norm(model.parameters()))
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        size = _batch_size(targets)
        total_loss += float(loss.detach()) * size
        examples += size
    seconds = time.perf_counter() - start
    return EpochStats(total_loss / max(examples, 1), examples, seconds, grad_norms)


def evaluate(
    model: nn.Module,
    loader: Iterable[Any],
    loss_fn: LossFn,
    *,
    metrics: Mapping[str, Metric] | None = None,
    forward: Forward | None = None,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """Per-example mean loss and ``metrics`` over ``loader``, in eval mode and without building a graph.

    Returns ``{"loss": ..., **{name: ...}}``. Each metric is computed per batch and
    weighted by batch size, which is exact for averages such as accuracy. The
    model's train/eval mode is restored afterwards, so calling this in the middle
    of training does not switch dropout or batch norm off for the rest of it.
    """
    forward = forward or _default_forward
    metrics = dict(metrics or {})
    was_training = model.training
    model.eval()
    totals = dict.fromkeys(["loss", *metrics], 0.0)
    examples = 0
    try:
        with torch.no_grad():
            for inputs, targets in loader:
                inputs, targets = to_device(inputs, device), to_device(targets, device)
                outputs = forward(model, inputs)
                size = _batch_size(targets)
                totals["loss"] += float(loss_fn(outputs, targets)) * size
                for name, metric in metrics.items():
                    totals[name] += float(metric(outputs, targets)) * size
                examples += size
    finally:
        model.train(was_training)
    return {name: total / max(examples, 1) for name, total in totals.items()}


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    epoch: int,
    generator: torch.Generator | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write everything a resumed run needs to continue exactly as if it had never stopped.

    That is more than the weights: the optimiser's state (momentum, Adam's moment
    estimates), the number of epochs done, the data-order generator's state, and
    the global RNG states of torch, NumPy and Python (dropout draws from torch's).
    The file is written to a temporary name and renamed, so a crash mid-write
    never leaves a truncated checkpoint where the last good one was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "epoch": int(epoch),
        "generator": generator.get_state() if generator is not None else None,
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": np.random.get_state(),
        "python_rng": random.getstate(),
        "extra": dict(extra or {}),
    }
    partial = path.with_name(path.name + ".partial")
    torch.save(state, partial)
    partial.replace(path)
    return path


def load_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    generator: torch.Generator | None = None,
    restore_rng: bool = True,
) -> dict[str, Any]:
    """Restore what :func:`save_checkpoint` wrote, in place; return ``{"epoch": ..., "extra": ...}``."""
    # weights_only=False: the checkpoint holds NumPy's and Python's RNG states, which are not tensors.
    # Load only checkpoints you wrote yourself: unpickling runs code.
    state = torch.load(Path(path), weights_only=False)
    model.load_state_dict(state["model"])
    if optimizer is not None and state["optimizer"] is not None:
        optimizer.load_state_dict(state["optimizer"])
    if generator is not None and state["generator"] is not None:
        generator.set_state(state["generator"])
    if restore_rng:
        torch.set_rng_state(state["torch_rng"])
        np.random.set_state(state["numpy_rng"])
        random.setstate(state["python_rng"])
    return {"epoch": state["epoch"], "extra": state["extra"]}


@dataclass
class History:
    """One row per epoch: epoch, train_loss, val_loss, val_<metric>, grad_norm_max, examples_per_second."""

    rows: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False

    def column(self, name: str) -> list[float]:
        return [row[name] for row in self.rows]


def fit(
    model: nn.Module,
    train_loader: Iterable[Any],
    val_loader: Iterable[Any] | None,
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    patience: int | None = None,
    min_delta: float = 0.0,
    max_grad_norm: float | None = None,
    metrics: Mapping[str, Metric] | None = None,
    scheduler: Any | None = None,
    forward: Forward | None = None,
    device: torch.device | str | None = None,
    checkpoint_path: str | Path | None = None,
    resume: bool = False,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> History:
    """Train for up to ``epochs`` epochs with optional early stopping, clipping and checkpointing.

    * ``patience``: stop after that many epochs without the validation loss
      improving by more than ``min_delta``, then load the best epoch's weights
      back into ``model`` (needs ``val_loader``).
    * ``checkpoint_path``: save a checkpoint after every epoch; with
      ``resume=True`` and an existing file, continue from it. Pass the
      ``generator`` of a shuffling ``train_loader`` so that the data order
      resumes too: a resumed run then ends with the same weights as an
      uninterrupted one.

    ``scheduler`` is stepped once per optimiser step. The early-stopping state
    (best loss, best weights, epochs without improvement) is not checkpointed:
    a resumed run restarts its patience count.
    """
    if patience is not None and val_loader is None:
        raise ValueError("early stopping (patience=...) needs a val_loader to watch")
    history = History()
    start_epoch = 0
    if checkpoint_path is not None and resume and Path(checkpoint_path).exists():
        start_epoch = load_checkpoint(checkpoint_path, model, optimizer, generator=generator)["epoch"]
    best_loss, best_state, bad_epochs = math.inf, None, 0
    epoch_numbers = range(start_epoch, epochs)
    if progress:
        from tqdm.auto import tqdm

        epoch_numbers = tqdm(epoch_numbers, desc="epochs")
    for epoch in epoch_numbers:
        stats = train_epoch(model, train_loader, loss_fn, optimizer, max_grad_norm=max_grad_norm,
                            scheduler=scheduler, forward=forward, device=device)
        row = {"epoch": float(epoch), "train_loss": stats.loss,
               "grad_norm_max": max(stats.grad_norms, default=0.0),
               "examples_per_second": stats.examples_per_second}
        if val_loader is not None:
            scores = evaluate(model, val_loader, loss_fn, metrics=metrics, forward=forward, device=device)
            row.update({f"val_{name}": value for name, value in scores.items()})
        history.rows.append(row)
        if checkpoint_path is not None:
            save_checkpoint(checkpoint_path, model, optimizer, epoch=epoch + 1, generator=generator)
        if val_loader is None:
            continue
        if row["val_loss"] < best_loss - min_delta:
            best_loss, bad_epochs, history.best_epoch = row["val_loss"], 0, epoch
            best_state = copy.deepcopy(model.state_dict()) if patience is not None else None
        else:
            bad_epochs += 1
        if patience is not None and bad_epochs >= patience:
            history.stopped_early = True
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return history
