"""The notebook executor that tests, `aie bench` and `aie check` share."""

from __future__ import annotations

from pathlib import Path

import nbformat
import psutil

from grader.execute import LiveNotebook, run_notebook


def own_kernels() -> set[int]:
    """This process's kernels (under pytest-xdist the worker also keeps the solution notebooks' kernels)."""
    children = psutil.Process().children(recursive=True)
    return {p.pid for p in children if "ipykernel_launcher" in " ".join(p.cmdline())}


def test_a_notebook_run_reports_errors_and_leaves_no_kernel_behind(tmp_path: Path) -> None:
    path = tmp_path / "nb.ipynb"
    cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("1 / 0")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    before = own_kernels()
    report = run_notebook(path)
    assert [(e.index, e.ename) for e in report.errors] == [(1, "ZeroDivisionError")]
    assert report.peak_memory_mib > 0
    assert own_kernels() <= before, "the kernel outlived the run (nbclient keeps kernels whose manager it did not make)"


def test_a_live_notebook_runs_more_code_in_the_same_kernel(tmp_path: Path) -> None:
    path = tmp_path / "nb.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 41")]), path)
    before = own_kernels()
    with LiveNotebook(path) as live:
        assert live.run_source("assert x == 41") is None
        assert live.run_source("assert x == 0").ename == "AssertionError"
    assert own_kernels() <= before


def test_a_kernel_that_dies_is_reported_without_hanging(tmp_path: Path) -> None:
    path = tmp_path / "nb.ipynb"
    cells = [nbformat.v4.new_code_cell("import os; os._exit(3)"), nbformat.v4.new_code_cell("never = 1")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    before = own_kernels()
    report = run_notebook(path, timeout=30)  # a blocking kernel client would wait for its output forever
    assert [(e.index, e.ename) for e in report.errors] == [(0, "DeadKernelError")]
    assert own_kernels() <= before
