"""The shared pieces of a small model service: versioned models, a real server in a thread, a load test.

Module 12 builds a ticket-routing service with FastAPI. What stays the same from
one service to the next lives here:

* :func:`train_ticket_model`, :func:`save_model` and :func:`load_model`: a
  TF-IDF + logistic-regression router, trained in seconds and stored under a
  version name, so that which model serves is configuration (``v1`` or ``v2``),
  and a rollback is a changed setting, not a code change.
* :func:`serve_in_thread`: a real uvicorn server on a free port of 127.0.0.1,
  started in a background thread and stopped when the ``with`` block ends.
* :func:`load_test`: a bounded load test (at most ``max_requests`` requests and
  ``max_seconds`` seconds) that returns each request's latency.

Servers bind to loopback addresses only: nothing here is reachable from another machine.
"""

from __future__ import annotations

import pickle
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "LOOPBACK_HOSTS",
    "LoadTestResult",
    "RunningServer",
    "TicketModel",
    "free_port",
    "latency_percentiles",
    "list_versions",
    "load_model",
    "load_test",
    "save_model",
    "serve_in_thread",
    "train_ticket_model",
]

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


# --------------------------------------------------------------------------- models


@dataclass
class TicketModel:
    """A trained ticket router with the metadata that a service logs and reports.

    ``pipeline`` is any object with ``predict_proba(list_of_texts)`` and ``classes_``
    (a scikit-learn pipeline here). ``version`` names the artefact; ``trained_on``
    describes the training data, for the health endpoint and the postmortem.
    """

    version: str
    pipeline: Any
    trained_on: str = ""
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.pipeline.classes_]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, shape ``(len(texts), len(classes))``; columns follow :attr:`classes`."""
        return np.asarray(self.pipeline.predict_proba(list(texts)))


def train_ticket_model(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    version: str,
    trained_on: str = "",
    max_features: int = 20_000,
    C: float = 5.0,
) -> TicketModel:
    """Fit TF-IDF on word 1-2-grams + logistic regression; about a second on a laptop.

    Word bigrams catch phrases ("cancel my", "log in"). ``max_features`` and ``C`` are the
    knobs; character n-grams (``analyzer="char_wb"``) would resist typos better at several
    times the cost, per request too.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    pipeline = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=max_features, sublinear_tf=True),
        LogisticRegression(C=C, max_iter=1_000),
    )
    pipeline.fit(list(texts), list(labels))
    return TicketModel(version=version, pipeline=pipeline, trained_on=trained_on)


def save_model(model: TicketModel, directory: str | Path) -> Path:
    """Write ``model`` to ``directory/<version>.pkl`` and return the path; refuses to overwrite a version.

    A version, once written, never changes: that is what makes "roll back to v1" mean something.
    """
    path = Path(directory) / f"{model.version}.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        raise FileExistsError(f"model version {model.version!r} already exists at {path}; pick a new version")
    with path.open("wb") as file:
        pickle.dump(model, file)
    return path


def load_model(directory: str | Path, version: str) -> TicketModel:
    """Load the model saved under ``version``; a clear error lists the versions that exist.

    Pickle runs code when it loads: load only artefacts your own pipeline wrote.
    """
    path = Path(directory) / f"{version}.pkl"
    if not path.exists():
        raise FileNotFoundError(f"no model version {version!r} in {directory}; have {list_versions(directory)}")
    with path.open("rb") as file:
        model = pickle.load(file)  # noqa: S301 (our own artefact)
    if not isinstance(model, TicketModel) or model.version != version:
        raise ValueError(f"{path} does not hold model version {version!r}")
    return model


def list_versions(directory: str | Path) -> list[str]:
    """The model versions saved in ``directory``, sorted by name."""
    return sorted(p.stem for p in Path(directory).glob("*.pkl"))


# --------------------------------------------------------------------------- a real server


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now (the OS picks it)."""
    _check_loopback(host)
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _check_loopback(host: str) -> None:
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"only loopback hosts are allowed here ({LOOPBACK_HOSTS}), got {host!r}")


@dataclass
class RunningServer:
    """A uvicorn server running in a background thread; ``url`` is its base address."""

    host: str
    port: int
    server: Any
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to finish in-flight requests and exit, then wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(timeout)
        if self.thread.is_alive():
            raise RuntimeError(f"the server on {self.url} did not stop within {2 * timeout:.0f} s")


@contextmanager
def serve_in_thread(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    log_level: str = "warning",
    startup_timeout: float = 15.0,
) -> Iterator[RunningServer]:
    """Run ``app`` with uvicorn on ``host:port`` (a free port by default) for the duration of a ``with`` block.

    >>> with serve_in_thread(app) as server:
    ...     httpx.get(server.url + "/health")

    The server is a real one (a socket, HTTP parsing, uvicorn's event loop), unlike
    FastAPI's ``TestClient``, which calls the app in-process. It is stopped, and the
    port released, when the block ends, even if the block raises.
    """
    import uvicorn

    _check_loopback(host)
    port = free_port(host) if port is None else port
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"uvicorn exited during startup on {host}:{port} (is the port taken?)")
        if time.monotonic() > deadline:
            server.should_exit = True
            thread.join(5.0)
            raise TimeoutError(f"uvicorn did not start on {host}:{port} within {startup_timeout} s")
        time.sleep(0.01)
    running = RunningServer(host=host, port=port, server=server, thread=thread)
    try:
        yield running
    finally:
        running.stop()


# --------------------------------------------------------------------------- load test


@dataclass
class LoadTestResult:
    """What a load test measured: one latency and one status code per request sent."""

    latencies_ms: np.ndarray
    status_codes: np.ndarray
    seconds: float

    @property
    def n_requests(self) -> int:
        return int(self.latencies_ms.size)

    @property
    def throughput_rps(self) -> float:
        return self.n_requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def error_rate(self) -> float:
        return float(np.mean(self.status_codes >= 400)) if self.n_requests else 0.0


def load_test(
    url: str,
    payloads: Sequence[dict[str, Any]],
    *,
    max_requests: int = 200,
    max_seconds: float = 10.0,
    concurrency: int = 1,
    timeout: float = 5.0,
) -> LoadTestResult:
    """POST ``payloads`` (cycled) to ``url`` with ``concurrency`` workers; bounded in count and time.

    Stops after ``max_requests`` requests or ``max_seconds`` seconds, whichever comes
    first, so a slow or broken server cannot hang the caller. Latency is measured on
    the client, so it includes the network stack and HTTP parsing, as a user sees it.
    """
    import httpx

    if not payloads:
        raise ValueError("payloads is empty")
    if not 1 <= concurrency <= 32:
        raise ValueError(f"concurrency must be in [1, 32], got {concurrency}")
    host = httpx.URL(url).host
    _check_loopback(host)

    lock = threading.Lock()
    counter = iter(range(max_requests))
    latencies: list[float] = []
    codes: list[int] = []
    start = time.perf_counter()
    deadline = start + max_seconds

    def worker() -> None:
        with httpx.Client(timeout=timeout) as client:
            while time.perf_counter() < deadline:
                with lock:
                    index = next(counter, None)
                if index is None:
                    return
                sent = time.perf_counter()
                try:
                    code = client.post(url, json=payloads[index % len(payloads)]).status_code
                except httpx.HTTPError:
                    code = 599  # no response: counted as an error, never retried
                elapsed_ms = (time.perf_counter() - sent) * 1000.0
                with lock:
                    latencies.append(elapsed_ms)
                    codes.append(code)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    return LoadTestResult(np.array(latencies), np.array(codes, dtype=int), time.perf_counter() - start)


def latency_percentiles(latencies_ms: Sequence[float], percentiles: Sequence[float] = (50, 95, 99)) -> dict[str, float]:
    """``{"p50": ..., "p95": ..., "p99": ...}`` in milliseconds (linear interpolation between samples)."""
    values = np.asarray(latencies_ms, dtype=float)
    if values.size == 0:
        raise ValueError("no latencies")
    return {f"p{q:g}": float(np.percentile(values, q)) for q in percentiles}
