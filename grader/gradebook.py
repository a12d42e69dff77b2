"""Scores into nbgrader's gradebook (SQLite by default, any SQLAlchemy URL), one transaction per student.

The assignment's cells are registered with nbgrader's own SaveCells, from the
released notebook, so nbgrader's formgrader can show the submissions for the
written answers that need a human.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import SaveCells

from grader.autograde import SubmissionResult

NOTEBOOK_ID = "lab"
COURSE_ID = "ai-engineering-2026"

# nbgrader creates a new gradebook by running the `alembic` command, found on PATH: make it this environment's,
# also when `aie` is run by its full path without the environment activated.
_bin = str(Path(sys.executable).parent)
if _bin not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _bin + os.pathsep + os.environ.get("PATH", "")


def register_assignment(db_url: str, assignment: str, released_lab: Path) -> None:
    """Create or update the assignment, its notebook and its grade cells in the gradebook."""
    with Gradebook(db_url, COURSE_ID) as gb:
        gb.update_or_create_assignment(assignment)
    nb = nbformat.read(released_lab, as_version=4)
    resources = {"nbgrader": {"notebook": NOTEBOOK_ID, "assignment": assignment, "db_url": db_url}}
    SaveCells().preprocess(nb, resources)


def store_result(db_url: str, result: SubmissionResult) -> None:
    """Write every autograded score of one submission, replacing any earlier one (failures score 0)."""
    with Gradebook(db_url, COURSE_ID) as gb:
        gb.update_or_create_student(result.student)
        gb.update_or_create_submission(result.assignment, result.student)
        for test in result.tests:
            grade = gb.find_grade(test.grade_id, NOTEBOOK_ID, result.assignment, result.student)
            grade.auto_score = test.points
            grade.needs_manual_grade = False
        gb.db.commit()


def stored_score(db_url: str, assignment: str, student: str) -> float | None:
    """The autograded score the gradebook holds for a submission, or None when there is none."""
    with Gradebook(db_url, COURSE_ID) as gb:
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            return None
        return float(submission.code_score)
