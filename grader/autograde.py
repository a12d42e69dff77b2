"""Grade one submission: rebuild it from the trusted lab, run it sandboxed, judge its records in this process.

The steps, each its own function:

1. `load_submission` reads the file defensively (size, JSON, nbformat 4, cells)
   and keeps only the *source of answer cells*, matched by grade id.
2. `graded_cells` rebuilds the notebook to run from the trusted solution
   notebook: its plain cells, the student's answers, and its test cells (hidden
   tests included) rewritten so that checks report values (`grader.transform`).
   The student's metadata, tags, extra or reordered cells and outputs are
   never used.
3. `run_cells` executes them in a kernel (sandboxed for students) with a limit
   per cell, per submission and on output, collecting each test cell's records.
4. `judge` compares the records with the golden ones from the trusted solution
   run, with the checks of `aie.checks`, in the grader's own process.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode

from aie import checks
from aie.recording import RECORD_MIME, decode
from grader.cells import exercise_of, grade_id, is_answer, is_test, is_written_answer, nbgrader_meta
from grader.execute import native_kernel_manager
from grader.forkserver import ForkedKernelManager, KernelForkServer
from grader.sandbox import Sandbox, SandboxedKernelManager, SandboxLimits, environment_for_kernel
from grader.transform import PRELUDE, rewrite_checks

MAX_SUBMISSION_BYTES = 5 * 1024**2
MAX_ANSWER_CHARS = 100_000
HIDDEN_MARKER = "### BEGIN HIDDEN TESTS"
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"


class InvalidSubmission(ValueError):
    """The file cannot be graded at all; the student gets 0 and this message."""


@dataclass
class Answers:
    """What a submission contributes: the source of its answer cells, by grade id, and what was ignored."""

    code: dict[str, str] = field(default_factory=dict)
    written: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _source(cell: Any) -> str:
    source = cell.get("source", "") if isinstance(cell, dict) else ""
    if isinstance(source, list):
        source = "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def load_submission(path: Path, expected_ids: set[str]) -> Answers:
    """Read a submitted notebook without trusting it; keep only the answers to ``expected_ids``."""
    size = path.stat().st_size
    if size > MAX_SUBMISSION_BYTES:
        raise InvalidSubmission(f"the notebook is {size / 1024**2:.1f} MB; the limit is "
                                f"{MAX_SUBMISSION_BYTES / 1024**2:.0f} MB (clear its outputs and submit again)")
    try:
        raw = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidSubmission(f"the file is not a notebook (invalid JSON: {exc})") from None
    if not isinstance(raw, dict) or raw.get("nbformat") != 4:
        version = raw.get("nbformat") if isinstance(raw, dict) else None
        raise InvalidSubmission(f"nbformat {version} is not supported; open and save the notebook in Jupyter 7")
    cells = raw.get("cells")
    if not isinstance(cells, list) or not cells:
        raise InvalidSubmission("the notebook has no cells")
    answers = Answers()
    for position, cell in enumerate(cells):
        if not isinstance(cell, dict):
            continue
        metadata = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
        nbgrader = metadata.get("nbgrader") if isinstance(metadata.get("nbgrader"), dict) else {}
        # The release gives each answer cell its grade id as cell id too, a fallback when metadata was lost.
        cell_id = nbgrader.get("grade_id") or str(cell.get("id", "")).replace("-", "_")
        if cell_id not in expected_ids:
            continue
        source = _source(cell)[:MAX_ANSWER_CHARS]
        target = answers.written if cell.get("cell_type") == "markdown" else answers.code
        if cell_id in answers.code or cell_id in answers.written:
            answers.notes.append(f"cell {position}: a second cell with grade id {cell_id!r} was ignored")
            continue
        target[cell_id] = source
    return answers


@dataclass
class GradedCell:
    """One cell of the notebook that runs in the kernel."""

    role: str  # "plain", "answer" or "test"
    source: str
    grade_id: str | None = None
    points: float = 0.0
    hidden: bool = False


def graded_cells(solution: NotebookNode, answers: Answers | None, mode: str = "record") -> list[GradedCell]:
    """The cells to run, in the solution's order: trusted code everywhere except the answers.

    ``answers=None`` runs the solution itself (the golden run).
    """
    cells = [GradedCell("plain", PRELUDE[mode])]
    for cell in solution.cells:
        if cell.cell_type != "code":
            continue
        gid = grade_id(cell)
        if is_answer(cell):
            source = cell.source if answers is None else answers.code.get(gid, STUB)
            cells.append(GradedCell("answer", source, gid))
        elif is_test(cell):
            source, _ = rewrite_checks(cell.source, mode)
            points = float(nbgrader_meta(cell).get("points", 0))
            cells.append(GradedCell("test", source, gid, points, hidden=HIDDEN_MARKER in cell.source))
        else:
            cells.append(GradedCell("plain", cell.source))
    return cells


@dataclass
class CellRun:
    """What running one cell produced: its records and its error, if any."""

    records: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    ran: bool = False


class LimitedOutputClient(NotebookClient):
    """A notebook client that keeps at most ``output_limit`` characters of output per cell."""

    output_limit = 1_000_000

    def output(self, outs: list, msg: dict, display_id: str, cell_index: int) -> NotebookNode | None:
        used = getattr(self, "_output_used", {})
        self._output_used = used
        size = len(json.dumps(msg.get("content", {}), default=str))
        used[cell_index] = used.get(cell_index, 0) + size
        if used[cell_index] > self.output_limit:
            if not getattr(self, "_truncated", set()) & {cell_index}:
                self._truncated = getattr(self, "_truncated", set()) | {cell_index}
                outs.append(nbformat.v4.new_output("stream", name="stderr", text="[output truncated by the grader]"))
            return None
        return super().output(outs, msg, display_id, cell_index)


def kernel_manager(sandbox: Sandbox | None, forkserver: KernelForkServer | None = None) -> AsyncKernelManager:
    """Native for trusted code; forked from the user's server when it works; else a bubblewrap of its own."""
    if sandbox is None:
        return native_kernel_manager()
    if forkserver is not None and forkserver.usable():
        return ForkedKernelManager(sandbox, forkserver)
    return SandboxedKernelManager(sandbox)


def kernel_kind(km: AsyncKernelManager) -> str:
    """How a kernel was started, as the result file records it."""
    if isinstance(km, ForkedKernelManager):
        return "forked"
    return "sandboxed" if isinstance(km, SandboxedKernelManager) else "native"


def run_cells(
    cells: list[GradedCell], sandbox: Sandbox | None, limits: SandboxLimits | None = None,
    km: AsyncKernelManager | None = None,
) -> tuple[list[CellRun], str | None]:
    """Execute ``cells`` in one kernel (``km``, else `kernel_manager`'s choice); return each cell's run and why
    the run stopped early, if it did."""
    limits = limits or SandboxLimits()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c.source) for c in cells])
    km = km or kernel_manager(sandbox)
    client = LimitedOutputClient(
        nb, km=km, timeout=limits.cell_seconds, allow_errors=True, interrupt_on_timeout=True,
        resources={"metadata": {"path": str(sandbox.scratch if sandbox else Path.cwd())}},
    )
    client.output_limit = limits.output_bytes
    runs = [CellRun() for _ in cells]
    stopped: str | None = None
    timed_out = threading.Event()

    def kill_kernel() -> None:
        # Killing bubblewrap ends the sandbox's PID namespace, and every process in it; a forked
        # kernel's kill ends every process of the sandbox user.
        if km.provisioner is not None and getattr(km.provisioner, "process", None) is not None:
            km.provisioner.process.kill()

    def end_sandbox() -> None:
        timed_out.set()
        kill_kernel()

    watchdog = threading.Timer(limits.submission_seconds, end_sandbox)
    # nbclient shuts down only kernels whose manager it created itself: ask for it, and do it at once,
    # since a graceful shutdown is a request the student's code could ignore.
    client.shutdown_kernel = "immediate"
    try:
        # The kernel's own stdout and stderr are the student's to write: keep them off the grader's terminal.
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL} if sandbox is not None else {}
        with client.setup_kernel(env=environment_for_kernel(), cleanup_kc=True, **quiet):
            watchdog.start()
            timed_out_exercises: set[str] = set()
            for index, cell in enumerate(nb.cells):
                exercise = exercise_of(cells[index].grade_id) if cells[index].role == "test" else None
                if exercise in timed_out_exercises:
                    # Its answer loops: running its other tests would cost the cell limit once more each.
                    runs[index].error = (f"not run: an earlier test of {exercise} ran past the "
                                         f"{limits.cell_seconds} s limit per cell")
                    continue
                try:
                    client.execute_cell(cell, index)
                except DeadKernelError:
                    stopped = ("the submission ran past its time limit" if timed_out.is_set()
                               else "the kernel died (memory, CPU time, or the code ended its own process)")
                    break
                except Exception as exc:  # noqa: BLE001 (a timeout or broken kernel stops this student only)
                    stopped = f"execution stopped: {type(exc).__name__}: {str(exc)[:200]}"
                    break
                run = runs[index]
                run.ran = True
                for output in cell.outputs:
                    if output.get("output_type") == "error":
                        run.error = f"{output.get('ename', '')}: {str(output.get('evalue', ''))[:500]}"
                        if output.get("ename") == "KeyboardInterrupt" and exercise is not None:
                            run.error = f"the test ran past the {limits.cell_seconds} s limit per cell and was stopped"
                            timed_out_exercises.add(exercise)
                    elif output.get("output_type") == "display_data" and RECORD_MIME in output.get("data", {}):
                        record = output["data"][RECORD_MIME]
                        if isinstance(record, dict):
                            run.records.append(record)
    except DeadKernelError:
        stopped = stopped or "the kernel died before it started"
    except RuntimeError as exc:
        stopped = stopped or f"the kernel could not start: {str(exc)[:300]}"
    finally:
        watchdog.cancel()
        kill_kernel()
        if sandbox is not None:
            sandbox.end()
    return runs, stopped


@dataclass
class TestResult:
    """The verdict on one test cell."""

    grade_id: str
    points: float
    max_points: float
    hidden: bool
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.points == self.max_points


@dataclass
class Golden:
    """The trusted solution's records, per test cell: what each check expects and with which settings."""

    records: dict[str, list[dict[str, Any]]]


def golden_from_solution(solution: NotebookNode, limits: SandboxLimits | None = None) -> Golden:
    """Run the solution (trusted, unsandboxed) with golden recording; every check must pass."""
    cells = graded_cells(solution, None, mode="golden")
    runs, stopped = run_cells(cells, sandbox=None, limits=limits)
    if stopped:
        raise RuntimeError(f"the solution notebook did not finish: {stopped}")
    records: dict[str, list[dict[str, Any]]] = {}
    for cell, run in zip(cells, runs, strict=True):
        if cell.role == "plain" or cell.role == "answer":
            if run.error:
                raise RuntimeError(f"the solution notebook fails in a {cell.role} cell: {run.error}")
            continue
        if run.error:
            raise RuntimeError(f"the solution fails its own test {cell.grade_id}: {run.error}")
        if not run.records:
            raise RuntimeError(f"test cell {cell.grade_id} holds no check: the grader could not judge it")
        records[cell.grade_id] = run.records
    return Golden(records)


_CHECKS = {"close": checks.check_close, "equal": checks.check_equal, "shape": checks.check_shape}


def judge_record(golden: dict[str, Any], student: dict[str, Any]) -> str | None:
    """Compare one student record with its golden record; return the failure message, or None."""
    name = golden["name"]
    if student.get("name") != name or student.get("kind") != golden["kind"]:
        return f"[{name}] the check did not run in the expected order"
    expected = decode(golden["expected"])
    actual = decode(student.get("actual", {}))
    params = dict(golden.get("params", {}))
    try:
        if golden["kind"] == "raises":
            checks.check_equal(name, actual, expected, hint=params.get("hint", ""))
        elif golden["kind"] == "shape":
            checks.check_shape(name, actual, tuple(int(n) for n in expected), **params)
        else:
            _CHECKS[golden["kind"]](name, actual, expected, **params)
    except checks.CheckFailed as failure:
        return str(failure)
    except Exception as error:  # noqa: BLE001 (e.g. a tuple holding arrays: `==` cannot say yes or no)
        return f"[{name}] the value could not be compared with the reference ({type(error).__name__})"
    return None


def judge(cells: list[GradedCell], runs: list[CellRun], golden: Golden, stopped: str | None) -> list[TestResult]:
    """Score every test cell: full points when all its checks match the golden ones and it raised nothing."""
    results = []
    for cell, run in zip(cells, runs, strict=True):
        if cell.role != "test":
            continue
        result = TestResult(cell.grade_id, 0.0, cell.points, cell.hidden)
        expected = golden.records[cell.grade_id]
        if not run.ran:
            result.message = run.error or stopped or "the test did not run"
        elif run.error:
            result.message = run.error
        elif len(run.records) != len(expected):
            result.message = f"{len(run.records)} checks reported, {len(expected)} expected"
        else:
            failures = [m for g, s in zip(expected, run.records, strict=True) if (m := judge_record(g, s))]
            if failures:
                result.message = failures[0]
            else:
                result.points = cell.points
        if cell.hidden and not result.passed:
            result.message = redact(result.message, expected)
        results.append(result)
    return results


def redact(message: str, golden_records: list[dict[str, Any]]) -> str:
    """A hidden test's failure without the reference values: the check's name and hint only."""
    if message.startswith("[") and "]" in message:
        name = message[1 : message.index("]")]
        hint = next((r.get("params", {}).get("hint", "") for r in golden_records if r["name"] == name), "")
        text = f"[{name}] does not match the reference on the hidden inputs"
        return text + (f"\n  Hint: {hint}" if hint else "")
    # An error raised by the student's own code: its type and message, never a traceback of the test.
    return message.splitlines()[0][:300] if message else "failed"


@dataclass
class SubmissionResult:
    """Everything the grader keeps about one student's submission of one assignment."""

    student: str
    assignment: str
    tests: list[TestResult] = field(default_factory=list)
    written: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    sha256: str = ""
    kernel: str = ""  # "forked" (from the user's server), "sandboxed" (a bubblewrap of its own) or "native"

    @property
    def score(self) -> float:
        return sum(t.points for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(t.max_points for t in self.tests)


def grade_submission(
    path: Path,
    solution: NotebookNode,
    golden: Golden,
    student: str,
    assignment: str,
    sandbox: Sandbox | None,
    limits: SandboxLimits | None = None,
    forkserver: KernelForkServer | None = None,
) -> SubmissionResult:
    """Grade one notebook. Never raises for anything the student did: problems become messages."""
    import hashlib

    start = time.perf_counter()
    result = SubmissionResult(student, assignment)
    expected_ids = {grade_id(c) for c in solution.cells if is_answer(c) or is_written_answer(c)}
    try:
        result.sha256 = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        answers = load_submission(path, expected_ids)
    except (InvalidSubmission, OSError) as exc:
        result.error = str(exc)
        answers = None
    cells = graded_cells(solution, answers or Answers())
    if answers is None:
        runs, stopped = [CellRun() for _ in cells], result.error
    else:
        result.written, result.notes = answers.written, answers.notes
        if sandbox is not None:
            sandbox.prepare()
        km = kernel_manager(sandbox, forkserver)
        result.kernel = kernel_kind(km)
        runs, stopped = run_cells(cells, sandbox, limits, km)
        if forkserver is not None and forkserver.problem and isinstance(km, ForkedKernelManager) \
                and not any(run.ran for run in runs):
            # The server broke before this kernel ran a cell (the student's code cannot reach the server):
            # the student is not to blame, so run the job again in a bubblewrap of its own.
            km = SandboxedKernelManager(sandbox)
            result.kernel = kernel_kind(km)
            runs, stopped = run_cells(cells, sandbox, limits, km)
        if stopped:
            result.error = stopped
    result.tests = judge(cells, runs, golden, stopped)
    result.seconds = time.perf_counter() - start
    return result
