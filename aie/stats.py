"""Evaluation statistics shared by module 03's lecture and lab: paired predictions and reliability diagrams.

Two things live here because both notebooks need them:

* ``simulate_paired_predictions`` draws the predictions of two models on one test set with a chosen accuracy
  for each and a chosen rate of disagreement, which is what decides whether a paired test can tell them apart.
* ``plot_reliability_diagram`` draws accuracy against confidence from per-bin statistics. It does not bin:
  the lecture derives the binning and the lab asks the learner to write it, and both pass their bins here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["PairedPredictions", "plot_reliability_diagram", "simulate_paired_predictions"]


@dataclass(frozen=True)
class PairedPredictions:
    """Labels and two models' predicted labels on the same test set, all of shape ``(n,)``."""

    y_true: np.ndarray
    pred_a: np.ndarray
    pred_b: np.ndarray

    @property
    def correct_a(self) -> np.ndarray:
        """Whether model A got each example right (bool, ``(n,)``)."""
        return self.pred_a == self.y_true

    @property
    def correct_b(self) -> np.ndarray:
        """Whether model B got each example right (bool, ``(n,)``)."""
        return self.pred_b == self.y_true


def simulate_paired_predictions(
    n: int,
    accuracy_a: float,
    accuracy_b: float,
    discordance: float,
    *,
    n_classes: int = 5,
    seed: int = 0,
) -> PairedPredictions:
    """Draw two models' predictions on a test set of ``n`` examples with ``n_classes`` classes.

    Each example independently falls in one of four cells of McNemar's table: both models right, only A right,
    only B right, both wrong. The cell probabilities follow from the expected accuracies and ``discordance``,
    the probability that exactly one of the two models is right (two models fine-tuned from the same base
    disagree on few examples; two unrelated models on many):

        P(only A right) = (discordance + accuracy_a - accuracy_b) / 2
        P(only B right) = (discordance - accuracy_a + accuracy_b) / 2

    A wrong prediction is a uniformly random other class, so two wrong models may or may not agree.
    The realised accuracies differ from the expected ones by sampling error, which is the point.

    Raises ``ValueError`` when the four cell probabilities are not all in [0, 1].
    """
    only_a = (discordance + accuracy_a - accuracy_b) / 2
    only_b = (discordance - accuracy_a + accuracy_b) / 2
    both = accuracy_a - only_a
    neither = 1.0 - both - only_a - only_b
    cells = np.array([both, only_a, only_b, neither])
    if n_classes < 2 or (cells < -1e-12).any() or (cells > 1 + 1e-12).any():
        raise ValueError(
            f"no joint distribution has accuracies {accuracy_a}, {accuracy_b} and discordance {discordance} "
            f"(cells both/only A/only B/neither = {np.round(cells, 4)}); need |accuracy_a - accuracy_b| <= "
            "discordance <= min(accuracy_a + accuracy_b, 2 - accuracy_a - accuracy_b)"
        )
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, n_classes, size=n)
    cell = rng.choice(4, size=n, p=np.clip(cells, 0.0, 1.0) / np.clip(cells, 0.0, 1.0).sum())
    right_a = (cell == 0) | (cell == 1)
    right_b = (cell == 0) | (cell == 2)
    # Adding 1..k-1 modulo k turns a label into a uniformly random different one.
    pred_a = np.where(right_a, y_true, (y_true + rng.integers(1, n_classes, size=n)) % n_classes)
    pred_b = np.where(right_b, y_true, (y_true + rng.integers(1, n_classes, size=n)) % n_classes)
    return PairedPredictions(y_true=y_true, pred_a=pred_a, pred_b=pred_b)


def plot_reliability_diagram(
    ax: Axes,
    bin_confidence: np.ndarray,
    bin_accuracy: np.ndarray,
    bin_count: np.ndarray,
    *,
    label: str | None = None,
    color: str | None = None,
) -> Axes:
    """Draw accuracy against mean confidence per bin on ``ax``, with the diagonal of perfect calibration.

    The three arrays have one entry per bin; empty bins (count 0, or NaN statistics) are skipped. Each point's
    area grows with its bin's count, so that a large gap in a bin of three examples does not look as alarming
    as one in a bin of three thousand. Points below the diagonal are overconfident, above it underconfident.
    """
    bin_confidence = np.asarray(bin_confidence, dtype=float)
    bin_accuracy = np.asarray(bin_accuracy, dtype=float)
    bin_count = np.asarray(bin_count, dtype=float)
    if not bin_confidence.shape == bin_accuracy.shape == bin_count.shape:
        raise ValueError(
            f"one entry per bin in each array; got shapes {bin_confidence.shape}, {bin_accuracy.shape}, "
            f"{bin_count.shape}"
        )
    filled = (bin_count > 0) & np.isfinite(bin_confidence) & np.isfinite(bin_accuracy)
    ax.plot([0, 1], [0, 1], color="0.5", ls="--", lw=1)
    sizes = 400.0 * bin_count[filled] / max(bin_count[filled].sum(), 1.0) + 8.0
    (line,) = ax.plot(bin_confidence[filled], bin_accuracy[filled], "-", color=color, lw=1.5, label=label)
    ax.scatter(bin_confidence[filled], bin_accuracy[filled], s=sizes, color=line.get_color(), alpha=0.7, zorder=3)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (mean predicted probability in the bin)",
           ylabel="accuracy in the bin")
    ax.set_aspect("equal")
    return ax
