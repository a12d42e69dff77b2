"""The shared training loop: it learns, it measures, it leaves evaluation side-effect free, and it resumes exactly."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from aie.training import (
    EpochStats,
    accuracy,
    evaluate,
    fit,
    global_grad_norm,
    load_checkpoint,
    save_checkpoint,
    seed_everything,
    to_device,
    train_epoch,
)


@pytest.fixture(autouse=True)
def _leave_torch_as_found():
    deterministic = torch.are_deterministic_algorithms_enabled()
    yield
    torch.use_deterministic_algorithms(deterministic)


def blobs(n: int = 96, seed: int = 0) -> TensorDataset:
    """Three Gaussian blobs in 4-D: separable, so a small MLP reaches a low loss in a few epochs."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    centres = torch.tensor([[2.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 2.0, 0]])
    return TensorDataset(centres[labels] + 0.5 * torch.randn(n, 4, generator=generator), labels)


def mlp(dropout: float = 0.0, batch_norm: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(4, 16)]
    if batch_norm:
        layers.append(nn.BatchNorm1d(16))
    layers += [nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 3)]
    return nn.Sequential(*layers)


def test_train_epoch_lowers_the_loss_and_reports_per_example_mean() -> None:
    torch.manual_seed(0)
    model = mlp()
    loader = DataLoader(blobs(), batch_size=10)  # 96 = 9 * 10 + 6: a short last batch
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2)
    losses = [train_epoch(model, loader, nn.CrossEntropyLoss(), optimizer).loss for _ in range(8)]
    assert losses[-1] < 0.5 * losses[0]
    stats = train_epoch(model, loader, nn.CrossEntropyLoss(), optimizer)
    assert isinstance(stats, EpochStats)
    assert stats.examples == 96 and len(stats.grad_norms) == 10
    assert stats.examples_per_second > 0 and all(n >= 0 for n in stats.grad_norms)


def test_train_epoch_clips_the_global_norm_and_logs_it_before_clipping() -> None:
    torch.manual_seed(0)
    model = mlp()
    loader = DataLoader(blobs(), batch_size=32)
    seen_norms = []
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    original_step = optimizer.step

    def step_and_record(*args, **kwargs):
        seen_norms.append(global_grad_norm(model.parameters()))
        return original_step(*args, **kwargs)

    optimizer.step = step_and_record
    stats = train_epoch(model, loader, nn.CrossEntropyLoss(), optimizer, max_grad_norm=1e-3)
    assert max(seen_norms) <= 1e-3 * (1 + 1e-4)
    assert min(stats.grad_norms) > 1e-3  # logged before clipping, so larger than the cap


def test_global_grad_norm_matches_the_norm_of_the_concatenated_gradients() -> None:
    a, b, unused = torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True), torch.zeros(1)
    a.grad, b.grad = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 4.0, 12.0])
    assert global_grad_norm([a, b, unused]) == pytest.approx(13.0)
    assert global_grad_norm([]) == 0.0


def test_evaluate_leaves_parameters_batch_norm_stats_and_mode_untouched() -> None:
    torch.manual_seed(0)
    model = mlp(dropout=0.5, batch_norm=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    loader = DataLoader(blobs(50), batch_size=8)
    for mode in (True, False):
        model.train(mode)
        first = evaluate(model, loader, nn.CrossEntropyLoss(), metrics={"accuracy": accuracy})
        second = evaluate(model, loader, nn.CrossEntropyLoss(), metrics={"accuracy": accuracy})
        assert model.training is mode and all(m.training is mode for m in model.modules())
        assert first == second  # eval mode: dropout off, so two passes agree exactly
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert set(first) == {"loss", "accuracy"} and 0.0 <= first["accuracy"] <= 1.0
    assert all(p.grad is None for p in model.parameters())


def test_evaluate_weights_batches_by_their_size() -> None:
    model = nn.Linear(4, 3)
    data = blobs(10)
    whole = evaluate(model, DataLoader(data, batch_size=10), nn.CrossEntropyLoss())
    uneven = evaluate(model, DataLoader(data, batch_size=4), nn.CrossEntropyLoss())
    assert uneven["loss"] == pytest.approx(whole["loss"], rel=1e-6)


def run(epochs: int, checkpoint: Path | None = None, stop_after: int | None = None) -> nn.Module:
    """Train a dropout MLP with Adam and a shuffling loader; optionally stop early and resume from a checkpoint."""
    generator = seed_everything(0)
    model = mlp(dropout=0.3)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loader = DataLoader(blobs(), batch_size=16, shuffle=True, generator=generator)
    if stop_after is None:
        fit(model, loader, None, nn.CrossEntropyLoss(), optimizer, epochs=epochs)
        return model
    fit(model, loader, None, nn.CrossEntropyLoss(), optimizer, epochs=stop_after, checkpoint_path=checkpoint,
        generator=generator)
    # A new process would start from different random state: make sure nothing carries over but the file.
    seed_everything(123)
    generator = torch.Generator().manual_seed(123)
    model = mlp(dropout=0.3)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loader = DataLoader(blobs(), batch_size=16, shuffle=True, generator=generator)
    fit(model, loader, None, nn.CrossEntropyLoss(), optimizer, epochs=epochs, checkpoint_path=checkpoint,
        resume=True, generator=generator)
    return model


def test_a_resumed_run_ends_with_the_same_weights_as_an_uninterrupted_one(tmp_path: Path) -> None:
    uninterrupted = run(epochs=4)
    resumed = run(epochs=4, checkpoint=tmp_path / "run.pt", stop_after=2)
    for (name, a), b in zip(uninterrupted.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), f"{name} differs after resuming"


def test_checkpoint_round_trip_restores_epoch_extra_and_optimizer(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    train_epoch(model, DataLoader(blobs(), batch_size=32), nn.CrossEntropyLoss(), optimizer)
    path = save_checkpoint(tmp_path / "sub" / "c.pt", model, optimizer, epoch=1, extra={"val_loss": 0.5})
    assert path.exists() and not path.with_name("c.pt.partial").exists()
    other = mlp()
    other_optimizer = torch.optim.Adam(other.parameters(), lr=0.01)
    info = load_checkpoint(path, other, other_optimizer)
    assert info == {"epoch": 1, "extra": {"val_loss": 0.5}}
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), other.parameters(), strict=True))
    assert other_optimizer.state_dict()["state"][0]["step"] == optimizer.state_dict()["state"][0]["step"]


def test_fit_stops_early_and_restores_the_best_weights() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Linear(64, 3))
    train = DataLoader(blobs(12, seed=1), batch_size=12)
    # Labels that no model can predict from the inputs: the validation loss rises as the model memorises.
    noise = blobs(60, seed=2)
    val = DataLoader(TensorDataset(noise.tensors[0], noise.tensors[1][torch.randperm(60)]), batch_size=60)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    history = fit(model, train, val, nn.CrossEntropyLoss(), optimizer, epochs=200, patience=3,
                  metrics={"accuracy": accuracy})
    assert history.stopped_early and len(history.rows) < 200
    val_losses = history.column("val_loss")
    assert history.best_epoch == min(range(len(val_losses)), key=val_losses.__getitem__)
    assert len(val_losses) == history.best_epoch + 1 + 3
    restored = evaluate(model, val, nn.CrossEntropyLoss())["loss"]
    assert restored == pytest.approx(val_losses[history.best_epoch], rel=1e-6)
    assert {"train_loss", "val_loss", "val_accuracy", "grad_norm_max", "examples_per_second"} <= set(history.rows[0])


def test_fit_refuses_early_stopping_without_validation_data() -> None:
    with pytest.raises(ValueError, match="val_loader"):
        fit(nn.Linear(4, 3), [], None, nn.CrossEntropyLoss(), torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=0.1),
            epochs=1, patience=2)


def test_seed_everything_makes_runs_repeat_and_dict_inputs_work() -> None:
    def one_run() -> list[float]:
        generator = seed_everything(7)
        model = mlp(dropout=0.2)
        loader = DataLoader(blobs(), batch_size=16, shuffle=True, generator=generator)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        return [train_epoch(model, loader, nn.CrossEntropyLoss(), optimizer).loss for _ in range(2)]

    assert one_run() == one_run()
    assert torch.are_deterministic_algorithms_enabled()
    assert to_device({"x": torch.ones(1), "rest": [torch.zeros(1)]}, "cpu")["rest"][0].device.type == "cpu"
    # A model called with keyword inputs, as Hugging Face models are.
    model = mlp()
    loader = [({"features": x}, y) for x, y in DataLoader(blobs(20), batch_size=5)]
    scores = evaluate(model, loader, nn.CrossEntropyLoss(), forward=lambda m, inputs: m(inputs["features"]))
    assert math.isfinite(scores["loss"])
