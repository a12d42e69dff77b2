"""Run notebooks in a fresh Jupyter kernel, measure them, and keep the kernel for more work.

`LiveNotebook` executes a notebook top to bottom and keeps its kernel alive, so
that a test can then swap a definition into the running kernel and re-run a few
cells (the wrong-answer tests), instead of re-running the whole notebook.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode

KERNEL_NAME = "python3"
# The kernel's peak resident memory in KiB. Linux keeps ru_maxrss across exec, so a kernel started from a
# large process (a pytest worker) would report that process's peak: read VmHWM, which exec resets, instead.
_PEAK_MEMORY_PROBE = """
def _aie_peak_kib():
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except OSError:  # not Linux
        import resource, sys
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak // 1024 if sys.platform == "darwin" else peak
print(_aie_peak_kib())
del _aie_peak_kib
"""


def native_kernel_manager() -> AsyncKernelManager:
    """A kernel manager that starts ipykernel with this interpreter.

    It must be the asynchronous one: with a blocking client, nbclient waits for
    a dead kernel's output forever instead of raising DeadKernelError.

    An empty search path leaves jupyter_client only its native kernel, so a
    `python3` kernelspec that a user installed elsewhere cannot swap in another
    environment.
    """
    return AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=KernelSpecManager(kernel_dirs=[]))


@dataclass
class CellError:
    """An error raised by one cell."""

    index: int
    grade_id: str | None
    ename: str
    evalue: str

    def __str__(self) -> str:
        where = self.grade_id or f"cell {self.index}"
        return f"{where}: {self.ename}: {self.evalue}"


@dataclass
class RunReport:
    """What running a notebook cost and which cells failed."""

    path: Path
    seconds: float = 0.0
    peak_memory_mib: float = 0.0
    errors: list[CellError] = field(default_factory=list)


def cell_error(cell: NotebookNode, index: int) -> CellError | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            return CellError(index, grade_id, output.get("ename", ""), output.get("evalue", ""))
    return None


class LiveNotebook:
    """A notebook executed in its own kernel, which stays alive until the context ends.

    >>> with LiveNotebook(path) as live:        # runs every cell, top to bottom
    ...     live.report.seconds, live.report.errors
    ...     live.run_source("x = 1")            # more code in the same kernel
    """

    def __init__(self, path: Path, timeout: int = 120, nb: NotebookNode | None = None) -> None:
        self.path = Path(path)
        self.nb = nb if nb is not None else nbformat.read(self.path, as_version=4)
        self.report = RunReport(self.path)
        self._client = NotebookClient(
            self.nb,
            timeout=timeout,
            allow_errors=True,
            km=native_kernel_manager(),
            resources={"metadata": {"path": str(self.path.parent)}},
        )
        self._kernel_context = None

    def __enter__(self) -> LiveNotebook:
        # nbclient shuts down only kernels whose manager it created; this one must not outlive the context.
        self._client.shutdown_kernel = "immediate"
        self._kernel_context = self._client.setup_kernel(cleanup_kc=True)
        self._kernel_context.__enter__()
        try:
            return self._run_all()
        except BaseException as exc:  # a cell timeout, Ctrl-C: the kernel must still be shut down
            self._kernel_context.__exit__(type(exc), exc, exc.__traceback__)
            raise

    def _run_all(self) -> LiveNotebook:
        start = time.perf_counter()
        for index, cell in enumerate(self.nb.cells):
            try:
                self._client.execute_cell(cell, index)
            except DeadKernelError as exc:  # memory, os._exit, a crash: the rest of the notebook cannot run
                gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                self.report.errors.append(CellError(index, gid, "DeadKernelError", str(exc)))
                self.report.seconds = time.perf_counter() - start
                return self
            error = cell_error(cell, index)
            if error is not None:
                self.report.errors.append(error)
        self.report.seconds = time.perf_counter() - start
        self.report.peak_memory_mib = self._peak_memory_mib()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._kernel_context is not None
        self._kernel_context.__exit__(exc_type, exc, tb)

    def run_source(self, source: str, grade_id: str | None = None) -> CellError | None:
        """Run code in the live kernel as one more cell; return its error, if any."""
        cell = nbformat.v4.new_code_cell(source)
        if grade_id:
            cell.metadata["nbgrader"] = {"grade_id": grade_id}
        self._execute_extra(cell)
        return cell_error(cell, len(self.nb.cells))

    def _execute_extra(self, cell: NotebookNode) -> None:
        # nbclient writes results back into the notebook at the cell's index; lend it a slot.
        self.nb.cells.append(cell)
        try:
            self._client.execute_cell(cell, len(self.nb.cells) - 1)
        finally:
            self.nb.cells.pop()

    def _peak_memory_mib(self) -> float:
        cell = nbformat.v4.new_code_cell(_PEAK_MEMORY_PROBE)
        self._execute_extra(cell)
        text = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
        return int(text.split()[-1]) / 1024.0


def run_notebook(path: Path, timeout: int = 120) -> RunReport:
    """Execute a notebook top to bottom in a fresh kernel and report time, memory and errors."""
    with LiveNotebook(path, timeout=timeout) as live:
        return live.report


def report_table(reports: list[RunReport], root: Path) -> str:
    """A Markdown table of wall time and peak memory, one row per notebook."""
    lines = ["| notebook | seconds | peak MiB | errors |", "|---|---:|---:|---:|"]
    for report in reports:
        name = report.path.relative_to(root) if report.path.is_relative_to(root) else report.path
        lines.append(f"| {name} | {report.seconds:.1f} | {report.peak_memory_mib:.0f} | {len(report.errors)} |")
    return "\n".join(lines)


def report_json(reports: list[RunReport], root: Path) -> str:
    rows = [
        {
            "notebook": str(r.path.relative_to(root)),
            "seconds": round(r.seconds, 2),
            "peak_memory_mib": round(r.peak_memory_mib, 1),
            "errors": [str(e) for e in r.errors],
        }
        for r in reports
    ]
    return json.dumps(rows, indent=1)
