"""What a cell is to the course: an answer, a test of an exercise, a written answer, or plain.

One place for the naming rule that ties test cells to their exercise:
a test cell's grade id is ``<exercise>__<part>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from nbformat import NotebookNode

PART_SEPARATOR = "__"


def nbgrader_meta(cell: NotebookNode) -> dict[str, Any]:
    return cell.get("metadata", {}).get("nbgrader", {})


def grade_id(cell: NotebookNode) -> str | None:
    return nbgrader_meta(cell).get("grade_id")


def is_answer(cell: NotebookNode) -> bool:
    """A code cell the learner fills in."""
    meta = nbgrader_meta(cell)
    return cell.cell_type == "code" and bool(meta.get("solution")) and not meta.get("grade")


def is_written_answer(cell: NotebookNode) -> bool:
    """A markdown answer graded by hand."""
    meta = nbgrader_meta(cell)
    return cell.cell_type == "markdown" and bool(meta.get("solution")) and bool(meta.get("grade"))


def is_test(cell: NotebookNode) -> bool:
    """A locked, autograded code cell."""
    meta = nbgrader_meta(cell)
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def exercise_of(test_grade_id: str) -> str:
    """The exercise a test cell belongs to: ``pca__components`` -> ``pca``."""
    exercise, separator, part = test_grade_id.partition(PART_SEPARATOR)
    if not separator or not part:
        raise ValueError(f"test cell grade id {test_grade_id!r} must be '<exercise>{PART_SEPARATOR}<part>'")
    return exercise


def answer_cells(nb: NotebookNode) -> Iterator[tuple[int, NotebookNode]]:
    for index, cell in enumerate(nb.cells):
        if is_answer(cell):
            yield index, cell


def autograded_cells(nb: NotebookNode, exercise: str | None = None) -> Iterator[tuple[int, NotebookNode]]:
    for index, cell in enumerate(nb.cells):
        if is_test(cell) and (exercise is None or exercise_of(grade_id(cell)) == exercise):
            yield index, cell


def points(nb: NotebookNode) -> float:
    """Total points of a notebook: autograded tests plus written answers."""
    return sum(float(nbgrader_meta(c).get("points", 0)) for c in nb.cells if nbgrader_meta(c).get("grade"))
