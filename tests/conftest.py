"""Shared fixtures: the syllabus's modules as parameters, and one live kernel per solution notebook.

Executing notebooks is the expensive part of the suite, so each solution
notebook is executed once per test session and its kernel is kept alive: the
run-time test reads its report, and the wrong-answer tests swap definitions
into the same kernel. Under pytest-xdist (`--dist loadgroup`) every test of a
module runs on one worker, so that worker is the only one to execute it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from grader.course import ROOT, Module, load_syllabus
from grader.execute import LiveNotebook, RunReport

# Two notebooks run at once on a 2-core machine: one BLAS thread each avoids oversubscription.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

NOTEBOOK_SECONDS_LIMIT = 60.0
RUNS_DIR = ROOT / "build" / "notebook-runs"


def module_params() -> list:
    """The syllabus's modules as pytest parameters, grouped so one worker takes a whole module."""
    return [pytest.param(m, id=m.id, marks=pytest.mark.xdist_group(m.id)) for m in load_syllabus().modules]


def record_run(report: RunReport) -> None:
    """Keep a notebook's time and memory for the summary printed at the end of the session."""
    RUNS_DIR.mkdir(parents=True, exist_ok=True)
    name = str(report.path.relative_to(ROOT)).replace("/", "__")
    row = {"notebook": str(report.path.relative_to(ROOT)), "seconds": report.seconds,
           "peak_memory_mib": report.peak_memory_mib}
    (RUNS_DIR / f"{name}.json").write_text(json.dumps(row))


@pytest.fixture(scope="session")
def live_solution() -> Iterator:
    """``live_solution(module)``: the module's solution notebook, executed once, its kernel alive."""
    cache: dict[str, LiveNotebook] = {}
    with ExitStack() as stack:

        def get(module: Module) -> LiveNotebook:
            if module.id not in cache:
                cache[module.id] = stack.enter_context(LiveNotebook(module.solution))
                record_run(cache[module.id].report)
            return cache[module.id]

        yield get


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # the controller, not an xdist worker
        for old in RUNS_DIR.glob("*.json"):
            old.unlink()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ANN001 (pytest hook)
    rows = [json.loads(p.read_text()) for p in sorted(RUNS_DIR.glob("*.json"))]
    if not rows:
        return
    terminalreporter.section("notebook wall time and peak memory")
    for row in sorted(rows, key=lambda r: r["notebook"]):
        terminalreporter.write_line(
            f"{row['notebook']:<55} {row['seconds']:6.1f} s {row['peak_memory_mib']:7.0f} MiB"
        )


@pytest.fixture
def fresh_release(tmp_path: Path):
    """``fresh_release(module)``: release the module's lab into a temporary folder; return that folder."""
    from grader.release import release

    def make(module: Module) -> Path:
        return release(module.id, release_root=tmp_path)

    return make
