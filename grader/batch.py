"""Grade every submission of an assignment: in parallel, each student a job of its own, resumable.

Layout, as nbgrader expects: ``<submitted>/<student>/<assignment>/lab.ipynb``.
Results go to the gradebook (one transaction per student), and beside it to
``<autograded>/<student>/<assignment>/result.json`` (with the submission's hash,
so a second run skips what is already graded) and ``<feedback>/...`` HTML.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import queue
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from aie.recording import RECORDING_VERSION
from grader.autograde import Golden, SubmissionResult, TestResult, golden_from_solution, grade_submission
from grader.course import ROOT, load_syllabus
from grader.feedback import render_feedback
from grader.forkserver import KernelForkServer, modules_to_preload
from grader.gradebook import register_assignment, store_result
from grader.sandbox import Sandbox, SandboxLimits, bubblewrap, reserved_uids

# The kernels' IPC sockets live under the work folder; a long TMPDIR would push them past 107 bytes.
SHORT_TEMPORARY_FOLDER = "/tmp" if os.path.isdir("/tmp") else None
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$")


@dataclass
class BatchSettings:
    """Where submissions are, where results go, and how to run them. Each field is a command-line option."""

    assignment: str
    submitted: Path = ROOT / "submitted"
    autograded: Path = ROOT / "autograded"
    feedback: Path = ROOT / "feedback"
    db_url: str = f"sqlite:///{ROOT / 'gradebook.db'}"
    workers: int = os.cpu_count() or 2
    sandbox: bool = True
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    force: bool = False  # regrade submissions whose result is already stored
    preload: bool = True  # fork kernels from a server per sandbox user that has imported the lab's modules


def discover(settings: BatchSettings) -> tuple[list[tuple[str, Path]], list[str]]:
    """The (student, notebook) pairs to grade, and the folders skipped with the reason."""
    jobs, skipped = [], []
    if not settings.submitted.is_dir():
        return jobs, [f"{settings.submitted} does not exist"]
    for folder in sorted(settings.submitted.iterdir()):
        if not folder.is_dir() or folder.is_symlink():
            continue
        if not STUDENT_ID.match(folder.name):
            skipped.append(f"{folder.name!r}: not a valid student id")
            continue
        jobs.append((folder.name, folder / settings.assignment / "lab.ipynb"))
    return jobs, skipped


def sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() and not path.is_symlink() else ""
    except OSError:
        return ""


def result_path(settings: BatchSettings, student: str) -> Path:
    return settings.autograded / student / settings.assignment / "result.json"


def already_graded(settings: BatchSettings, student: str, notebook: Path) -> SubmissionResult | None:
    path = result_path(settings, student)
    if settings.force or not path.exists():
        return None
    try:
        stored = load_result(path)
    except (ValueError, KeyError, TypeError):
        return None
    return stored if stored.sha256 == sha256(notebook) else None


def save_result(settings: BatchSettings, result: SubmissionResult) -> None:
    """Gradebook first, then the result file: a crash between the two only means the student is regraded."""
    store_result(settings.db_url, result)
    path = result_path(settings, result.student)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(dataclasses.asdict(result), indent=1), encoding="utf-8")
    temporary.replace(path)
    page = settings.feedback / result.student / settings.assignment / "feedback.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(render_feedback(result), encoding="utf-8")


def load_result(path: Path) -> SubmissionResult:
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["tests"] = [TestResult(**t) for t in raw["tests"]]
    return SubmissionResult(**raw)


def load_golden(settings: BatchSettings, solution_path: Path) -> Golden:
    """The solution's golden records, computed once per version of the solution notebook."""
    digest = sha256(solution_path)[:16]
    cache = settings.autograded / ".golden" / f"{settings.assignment}-{digest}-v{RECORDING_VERSION}.json"
    if cache.exists():
        return Golden(json.loads(cache.read_text(encoding="utf-8")))
    golden = golden_from_solution(nbformat.read(solution_path, as_version=4), settings.limits)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(golden.records), encoding="utf-8")
    return golden


def grade_batch(
    settings: BatchSettings, on_result: Callable[[SubmissionResult, bool], None] | None = None
) -> tuple[list[SubmissionResult], list[str]]:
    """Grade every submission; return the results (graded now or before) and the folders skipped."""
    module = load_syllabus().module(settings.assignment)
    if settings.sandbox:
        bubblewrap()  # fail early, with the install hint, rather than once per student
    solution = nbformat.read(module.solution, as_version=4)
    jobs, skipped = discover(settings)
    results: list[SubmissionResult] = []
    pending = []
    for student, notebook in jobs:
        done = already_graded(settings, student, notebook)
        if done is not None:
            results.append(done)
            if on_result:
                on_result(done, True)
        else:
            pending.append((student, notebook))

    hidden = tuple(p for p in {settings.submitted.resolve(), settings.autograded.resolve(),
                               settings.feedback.resolve(), *database_folder(settings.db_url)})
    own_users = settings.sandbox and os.geteuid() == 0
    servers: dict[int, KernelForkServer] = {}

    def workspace(uid: int | None) -> Path:
        return work_root / (f"user-{uid}" if uid is not None else "user")

    def grade_one(job: int, student: str, notebook: Path) -> SubmissionResult:
        uid = uids.get()
        # Named by number, not by student: a socket path must fit in 107 bytes, and a student id may take 128.
        sandbox = (Sandbox(workspace(uid) / f"job-{job}", settings.limits, uid=uid, hidden=hidden)
                   if settings.sandbox else None)
        try:
            return grade_submission(notebook, solution, golden, student, settings.assignment, sandbox,
                                    settings.limits, servers.get(uid))
        except Exception as exc:  # noqa: BLE001 (a grader failure on one student must not stop the others)
            failed = SubmissionResult(student, settings.assignment, error=f"internal grader error: {exc!r}"[:500])
            failed.tests = [TestResult(gid, 0.0, points, False, "not graded")
                            for gid, points in points_by_test_cell(solution)]
            return failed
        finally:
            uids.put(uid)
            if sandbox is not None:
                shutil.rmtree(sandbox.job_dir, ignore_errors=True)

    with reserved_uids(settings.workers) if own_users and pending else nullcontext([None] * settings.workers) as taken:
        uids: queue.Queue[int | None] = queue.Queue()
        for uid in taken:
            uids.put(uid)
        work_root = Path(tempfile.mkdtemp(prefix="aie-grade-", dir=SHORT_TEMPORARY_FOLDER))
        work_root.chmod(0o711)
        try:
            for uid in taken:
                workspace(uid).mkdir(mode=0o711, exist_ok=True)
                if uid is not None and settings.preload:
                    # Started now, so that their imports overlap the solution's golden run.
                    servers[uid] = KernelForkServer(Sandbox(workspace(uid), settings.limits, uid=uid, hidden=hidden),
                                                    modules_to_preload(solution))
                    servers[uid].start()
            # Both must succeed before anyone is graded; they use a core each (the solution's kernel, alembic's).
            with ThreadPoolExecutor(max_workers=2) as setup:
                registered = setup.submit(register_assignment, settings.db_url, settings.assignment, module.lab)
                golden = load_golden(settings, module.solution)
                registered.result()
            with ThreadPoolExecutor(max_workers=settings.workers) as pool:
                futures = [pool.submit(grade_one, job, student, notebook)
                           for job, (student, notebook) in enumerate(pending)]
                for future in as_completed(futures):
                    result = future.result()
                    save_result(settings, result)
                    results.append(result)
                    if on_result:
                        on_result(result, False)
        finally:
            for server in servers.values():
                server.close()
            shutil.rmtree(work_root, ignore_errors=True)
    return sorted(results, key=lambda r: r.student), skipped


def points_by_test_cell(solution: nbformat.NotebookNode) -> list[tuple[str, float]]:
    from grader.cells import autograded_cells, grade_id, nbgrader_meta

    return [(grade_id(c), float(nbgrader_meta(c).get("points", 0))) for _, c in autograded_cells(solution)]


def database_folder(db_url: str) -> list[Path]:
    """The folder of a SQLite gradebook, which the sandbox must hide; a server database is out of reach anyway."""
    if db_url.startswith("sqlite:///"):
        return [Path(db_url.removeprefix("sqlite:///")).resolve().parent]
    return []


def summary_table(results: list[SubmissionResult]) -> str:
    lines = [f"{'student':<24} {'score':>7} {'max':>5} {'seconds':>8}  problem", "-" * 70]
    for r in results:
        lines.append(f"{r.student:<24} {r.score:>7g} {r.max_score:>5g} {r.seconds:>8.1f}  {(r.error or '')[:60]}")
    scores = [r.score for r in results]
    if scores:
        lines.append(f"{len(results)} submissions, mean {sum(scores) / len(scores):.2f}, "
                     f"max {max(scores):g}, {sum(1 for r in results if r.error)} with problems")
        kinds = Counter(r.kernel for r in results if r.kernel)
        if kinds:  # a fallback from forked kernels shows here
            lines.append("kernels: " + ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items())))
    return "\n".join(lines)

