"""Throughput against plain `nbgrader autograde`, on the same submissions, in one run.

`compare_with_nbgrader` writes N honest submissions of a module (each student
answers a different subset of the exercises correctly and leaves the rest as
the released stubs), grades them once with `nbgrader autograde` in a course
folder of its own and once with `aie grade` (sandboxed, in parallel), and
reports both wall times and every student's score from both gradebooks.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader.batch import BatchSettings, grade_batch
from grader.cells import answer_cells, grade_id
from grader.course import Module
from grader.gradebook import COURSE_ID, stored_score
from grader.sandbox import SandboxLimits

NBGRADER_CONFIG = """\
c = get_config()
c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.db_url = {db_url!r}
c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
c.ExecutePreprocessor.timeout = {cell_seconds}
"""


@dataclass
class Comparison:
    """Both graders' wall time for the whole batch and each student's score in their gradebooks."""

    module: str
    submissions: int
    workers: int
    preload: bool = True
    nbgrader_seconds: float = 0.0
    aie_seconds: float = 0.0
    nbgrader_scores: dict[str, float | None] = field(default_factory=dict)
    aie_scores: dict[str, float | None] = field(default_factory=dict)

    @property
    def speedup(self) -> float:
        return self.nbgrader_seconds / self.aie_seconds if self.aie_seconds else float("nan")

    @property
    def identical_scores(self) -> bool:
        return self.nbgrader_scores == self.aie_scores

    def table(self) -> str:
        lines = [
            f"{self.submissions} submissions of {self.module}",
            f"nbgrader autograde (1 process):   {self.nbgrader_seconds:7.1f} s  "
            f"({self.nbgrader_seconds / self.submissions:.2f} s per submission)",
            f"aie grade ({self.workers} workers, sandboxed, {'forked' if self.preload else 'not forked'} kernels): "
            f"{self.aie_seconds:7.1f} s  "
            f"({self.aie_seconds / self.submissions:.2f} s per submission)",
            f"speed-up: {self.speedup:.2f}x; identical scores: {self.identical_scores}",
        ]
        for student in sorted(self.nbgrader_scores):
            if self.nbgrader_scores[student] != self.aie_scores.get(student):
                lines.append(f"  {student}: nbgrader {self.nbgrader_scores[student]}, "
                             f"aie {self.aie_scores.get(student)}")
        return "\n".join(lines)


def honest_submissions(module: Module, count: int) -> dict[str, nbformat.NotebookNode]:
    """``count`` released notebooks; student i answers the exercises whose bit is set in i (all, for i = 0)."""
    released = nbformat.read(module.lab, as_version=4)
    solution = nbformat.read(module.solution, as_version=4)
    answers = {grade_id(cell): cell.source for _, cell in answer_cells(solution)}
    exercises = sorted(answers)
    submissions = {}
    for i in range(count):
        mask = (1 << len(exercises)) - 1 if i == 0 else i
        nb = copy.deepcopy(released)
        chosen = {e for bit, e in enumerate(exercises) if mask >> bit & 1}
        for cell in nb.cells:
            if grade_id(cell) in chosen:
                cell.source = answers[grade_id(cell)]
        submissions[f"student-{i:03d}"] = nb
    return submissions


def write_submissions(folder: Path, module: Module, submissions: dict[str, nbformat.NotebookNode]) -> None:
    for student, nb in submissions.items():
        path = folder / student / module.id / "lab.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)


def run_nbgrader(root: Path, module: Module, submissions: dict[str, nbformat.NotebookNode],
                 cell_seconds: int) -> tuple[float, dict[str, float | None]]:
    """Plain nbgrader: generate the assignment into its own gradebook, then one `nbgrader autograde`."""
    db_url = f"sqlite:///{root / 'gradebook.db'}"
    (root / "nbgrader_config.py").write_text(
        NBGRADER_CONFIG.format(course_id=COURSE_ID, db_url=db_url, cell_seconds=cell_seconds), encoding="utf-8")
    source = root / "source" / module.id
    source.mkdir(parents=True)
    shutil.copy(module.solution, source / "lab.ipynb")
    nbgrader = [sys.executable, "-m", "nbgrader"]
    subprocess.run([*nbgrader, "generate_assignment", module.id, "--force"], cwd=root, check=True,
                   capture_output=True)
    write_submissions(root / "submitted", module, submissions)
    start = time.perf_counter()
    subprocess.run([*nbgrader, "autograde", module.id, "--force"], cwd=root, check=True, capture_output=True)
    seconds = time.perf_counter() - start
    return seconds, {s: stored_score(db_url, module.id, s) for s in submissions}


def run_aie(root: Path, module: Module, submissions: dict[str, nbformat.NotebookNode], workers: int,
            limits: SandboxLimits, preload: bool = True) -> tuple[float, dict[str, float | None]]:
    """`aie grade` on the same notebooks, the solution's golden run included in the time."""
    write_submissions(root / "submitted", module, submissions)
    settings = BatchSettings(assignment=module.id, submitted=root / "submitted", autograded=root / "autograded",
                             feedback=root / "feedback", db_url=f"sqlite:///{root / 'gradebook.db'}",
                             workers=workers, limits=limits, preload=preload)
    start = time.perf_counter()
    grade_batch(settings)
    seconds = time.perf_counter() - start
    return seconds, {s: stored_score(settings.db_url, module.id, s) for s in submissions}


def compare_with_nbgrader(module: Module, count: int = 24, workers: int = 2,
                          limits: SandboxLimits | None = None, preload: bool = True) -> Comparison:
    limits = limits or SandboxLimits()
    submissions = honest_submissions(module, count)
    comparison = Comparison(module.id, count, workers, preload)
    with tempfile.TemporaryDirectory(prefix="aie-bench-") as tmp:
        base = Path(tmp)
        (base / "nbgrader").mkdir()
        (base / "aie").mkdir()
        comparison.nbgrader_seconds, comparison.nbgrader_scores = run_nbgrader(
            base / "nbgrader", module, submissions, limits.cell_seconds)
        comparison.aie_seconds, comparison.aie_scores = run_aie(base / "aie", module, submissions, workers, limits,
                                                                preload)
    return comparison
