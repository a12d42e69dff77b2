"""Notebooks are valid nbformat 4, committed clean, and their nbgrader metadata is what nbgrader accepts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import nbformat
import pytest
from nbgrader.nbgraderformat import MetadataValidator

from grader.cells import answer_cells, autograded_cells, exercise_of, grade_id, is_written_answer, nbgrader_meta, points
from grader.course import ROOT, Module, all_notebooks, load_syllabus
from tests.conftest import module_params

NOTEBOOKS = all_notebooks()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(ROOT)) for p in NOTEBOOKS])
def test_notebook_is_valid_and_committed_without_outputs(path: Path) -> None:
    assert path.exists(), f"{path.relative_to(ROOT)} is listed by the syllabus but missing"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {index} has outputs: run `aie strip {path.relative_to(ROOT)}`"
            assert cell.execution_count is None, f"cell {index} has an execution count: run `aie strip`"


@pytest.mark.parametrize("module", module_params())
def test_nbgrader_accepts_the_metadata(module: Module) -> None:
    validator = MetadataValidator()
    for path in (module.solution, module.lab):
        nb = nbformat.read(path, as_version=4)
        validator.validate_nb(nb)  # raises on a schema error, as `nbgrader validate` would
        ids = [grade_id(c) for c in nb.cells if grade_id(c)]
        duplicated = [i for i, n in Counter(ids).items() if n > 1]
        assert not duplicated, f"duplicated grade ids in {path.name}: {duplicated}"


@pytest.mark.parametrize("module", module_params())
def test_every_exercise_is_tested_and_points_match_the_syllabus(module: Module) -> None:
    nb = nbformat.read(module.solution, as_version=4)
    exercises = {grade_id(cell) for _, cell in answer_cells(nb)}
    tested = {exercise_of(grade_id(cell)) for _, cell in autograded_cells(nb)}
    assert tested <= exercises, f"test cells for no answer cell: {tested - exercises}"
    assert exercises <= tested, f"answer cells without a test cell: {exercises - tested}"
    assert 5 <= len(exercises) + sum(is_written_answer(c) for c in nb.cells) <= 8, "a lab has 5 to 8 exercises"
    assert any(is_written_answer(c) for c in nb.cells), "a lab has at least one written answer graded by hand"
    for _, cell in autograded_cells(nb):
        assert nbgrader_meta(cell).get("points", 0) > 0, f"{grade_id(cell)} is worth no points"
    assert points(nb) == module.points, f"the lab is worth {points(nb)} points, the syllabus says {module.points}"


def test_syllabus_lists_every_module_folder_and_nothing_else() -> None:
    ids = [m.id for m in load_syllabus().modules]
    assert len(ids) == len(set(ids))
    for folder in ("course", "solutions", "labs"):
        on_disk = sorted(p.name for p in (ROOT / folder).iterdir() if p.is_dir())
        assert on_disk == sorted(ids), f"{folder}/ holds {on_disk}, the syllabus lists {ids}"


def test_syllabus_entries_are_complete() -> None:
    for module in load_syllabus().modules:
        assert module.objectives and module.skills, f"{module.id} needs objectives and skills"
        assert module.minutes > 0 and module.points > 0
