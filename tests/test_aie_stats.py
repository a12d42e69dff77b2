"""aie.stats: the paired-prediction simulator hits its targets; the reliability plotter draws what it is given."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from aie.stats import plot_reliability_diagram, simulate_paired_predictions


def test_simulated_accuracies_and_discordance_match_the_targets() -> None:
    paired = simulate_paired_predictions(200_000, 0.85, 0.87, 0.10, n_classes=4, seed=1)
    assert paired.y_true.shape == paired.pred_a.shape == paired.pred_b.shape == (200_000,)
    assert abs(paired.correct_a.mean() - 0.85) < 0.005
    assert abs(paired.correct_b.mean() - 0.87) < 0.005
    assert abs((paired.correct_a != paired.correct_b).mean() - 0.10) < 0.005
    assert set(np.unique(paired.pred_a)) <= set(range(4))


def test_wrong_predictions_are_never_the_true_label() -> None:
    paired = simulate_paired_predictions(5_000, 0.6, 0.7, 0.3, n_classes=2, seed=2)
    # With two classes a wrong prediction must be the other class.
    assert ((paired.pred_a == paired.y_true) == paired.correct_a).all()
    assert (paired.pred_b[~paired.correct_b] == 1 - paired.y_true[~paired.correct_b]).all()


def test_same_seed_same_draw_and_other_seed_other_draw() -> None:
    first = simulate_paired_predictions(1_000, 0.8, 0.8, 0.2, seed=3)
    again = simulate_paired_predictions(1_000, 0.8, 0.8, 0.2, seed=3)
    other = simulate_paired_predictions(1_000, 0.8, 0.8, 0.2, seed=4)
    assert np.array_equal(first.pred_a, again.pred_a) and np.array_equal(first.pred_b, again.pred_b)
    assert not np.array_equal(first.pred_a, other.pred_a)


@pytest.mark.parametrize(("accuracy_a", "accuracy_b", "discordance"), [(0.9, 0.8, 0.05), (0.9, 0.9, 0.5)])
def test_impossible_targets_are_refused(accuracy_a: float, accuracy_b: float, discordance: float) -> None:
    with pytest.raises(ValueError, match="no joint distribution"):
        simulate_paired_predictions(10, accuracy_a, accuracy_b, discordance)


def test_reliability_diagram_skips_empty_bins_and_keeps_the_unit_square() -> None:
    fig, ax = plt.subplots()
    plot_reliability_diagram(ax, [0.15, np.nan, 0.8], [0.1, np.nan, 0.9], [10, 0, 30], label="model")
    drawn = [line for line in ax.get_lines() if line.get_label() == "model"][0]
    assert np.allclose(drawn.get_xdata(), [0.15, 0.8]) and np.allclose(drawn.get_ydata(), [0.1, 0.9])
    assert ax.get_xlim() == (0.0, 1.0) and ax.get_ylim() == (0.0, 1.0)
    plt.close(fig)


def test_reliability_diagram_rejects_mismatched_bins() -> None:
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="one entry per bin"):
        plot_reliability_diagram(ax, [0.1, 0.2], [0.1], [1, 1])
    plt.close(fig)
