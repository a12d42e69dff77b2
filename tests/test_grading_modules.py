"""Every module's lab through the real grader: the solution earns every point, the untouched release none.

The wrong-answer tests run the checks inside a live kernel; the grader instead
records values in a sandboxed kernel and judges them in its own process. This
runs each lab both ways that matter to an instructor, so a value the recorder
cannot carry (a dtype, a class, a tuple of lists) shows up here as lost points.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from grader.batch import BatchSettings, grade_batch
from grader.benchmark import compare_with_nbgrader
from grader.course import Module, load_syllabus
from grader.sandbox import SandboxLimits
from tests.conftest import module_params

pytestmark = [pytest.mark.slow, pytest.mark.notebooks]


@pytest.mark.parametrize("module", module_params())
def test_the_solution_earns_every_point_and_the_release_none(module: Module, tmp_path: Path) -> None:
    for student, notebook in (("solution", module.solution), ("release", module.lab)):
        target = tmp_path / "submitted" / student / module.id / "lab.ipynb"
        target.parent.mkdir(parents=True)
        shutil.copy(notebook, target)
    settings = BatchSettings(
        assignment=module.id, submitted=tmp_path / "submitted", autograded=tmp_path / "autograded",
        feedback=tmp_path / "feedback", db_url=f"sqlite:///{tmp_path / 'gradebook.db'}", workers=2,
        limits=SandboxLimits(cell_seconds=60, submission_seconds=120),
    )
    results, skipped = grade_batch(settings)
    assert not skipped
    by_student = {r.student: r for r in results}
    solution, release = by_student["solution"], by_student["release"]
    assert solution.error is None, solution.error
    lost = {t.grade_id: t.message for t in solution.tests if not t.passed}
    assert not lost, f"the solution loses points under the grader: {lost}"
    assert solution.score == solution.max_score > 0
    assert release.score == 0, {t.grade_id: t.points for t in release.tests if t.points}
    if os.geteuid() == 0:
        assert solution.kernel == release.kernel == "forked"


@pytest.mark.xdist_group("bench-grading")
def test_the_benchmark_grades_like_nbgrader() -> None:
    # The throughput claim stands on identical scores: three students answer three different sets of exercises.
    comparison = compare_with_nbgrader(load_syllabus().module("01-linear-algebra"), count=3, workers=2)
    assert comparison.identical_scores, comparison.table()
    assert len(set(comparison.aie_scores.values())) == 3, comparison.aie_scores
    assert comparison.nbgrader_seconds > 0 and comparison.aie_seconds > 0
