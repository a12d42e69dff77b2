"""The serving helpers: versioned models, a real loopback server that stops, a bounded load test."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from aie.serving import (
    free_port,
    latency_percentiles,
    list_versions,
    load_model,
    load_test,
    save_model,
    serve_in_thread,
    train_ticket_model,
)
from aie.tickets import CATEGORIES, make_tickets


@pytest.fixture(scope="module")
def model():
    tickets = make_tickets(600, seed=0)
    return train_ticket_model(tickets["text"], tickets["category"], version="v1", trained_on="600 launch tickets")


def test_model_predicts_probabilities_over_the_categories(model) -> None:
    probabilities = model.predict_proba(["I was charged twice, please refund", "cannot log in"])
    assert probabilities.shape == (2, len(model.classes))
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert set(model.classes) <= set(CATEGORIES)
    assert model.classes[int(probabilities[0].argmax())] == "billing"


def test_versions_are_saved_once_and_loaded_by_name(model, tmp_path) -> None:
    save_model(model, tmp_path)
    assert list_versions(tmp_path) == ["v1"]
    loaded = load_model(tmp_path, "v1")
    assert loaded.version == "v1" and loaded.trained_on == "600 launch tickets"
    assert np.allclose(loaded.predict_proba(["refund"]), model.predict_proba(["refund"]))
    with pytest.raises(FileExistsError):
        save_model(model, tmp_path)
    with pytest.raises(FileNotFoundError, match="have \\['v1'\\]"):
        load_model(tmp_path, "v2")


def test_real_server_answers_and_stops() -> None:
    app = FastAPI()

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.post("/echo")
    def echo(payload: dict) -> dict:
        return payload

    with serve_in_thread(app) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert httpx.get(server.url + "/health", timeout=5).json() == {"status": "ok"}
        result = load_test(server.url + "/echo", [{"a": 1}], max_requests=20, max_seconds=5, concurrency=2)
    assert not server.running
    assert result.n_requests == 20 and result.error_rate == 0.0
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/health", timeout=1)


def test_load_test_is_bounded_in_time() -> None:
    app = FastAPI()

    @app.post("/slow")
    def slow() -> dict:
        import time

        time.sleep(0.05)
        return {}

    with serve_in_thread(app) as server:
        result = load_test(server.url + "/slow", [{}], max_requests=10_000, max_seconds=0.5)
    assert result.n_requests < 30 and result.seconds < 2.0


def test_only_loopback_hosts() -> None:
    with pytest.raises(ValueError, match="loopback"):
        free_port("0.0.0.0")
    with pytest.raises(ValueError, match="loopback"):
        load_test("http://example.org/predict", [{}])


def test_percentiles() -> None:
    values = np.arange(1, 101, dtype=float)
    result = latency_percentiles(values)
    assert result == {"p50": pytest.approx(50.5), "p95": pytest.approx(95.05), "p99": pytest.approx(99.01)}
    with pytest.raises(ValueError):
        latency_percentiles([])
