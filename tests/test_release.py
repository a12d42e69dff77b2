"""labs/ is exactly what the release generates from solutions/, and nothing instructor-only leaks into it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from grader.cells import answer_cells, autograded_cells, is_written_answer, nbgrader_meta
from grader.course import ROOT, Module
from tests.conftest import module_params

SOLUTION_REGION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)
HIDDEN_REGION = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)
INSTRUCTOR_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "BEGIN MARK SCHEME", "END MARK SCHEME")
# The metadata a student notebook may carry: what nbgrader itself writes into a release.
STUDENT_NBGRADER_KEYS = {"cell_type", "checksum", "grade", "grade_id", "locked", "points", "schema_version",
                         "solution", "task"}
STUDENT_CELL_KEYS = {"nbgrader", "deletable", "editable"}


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("module", module_params())
def test_labs_are_exactly_a_fresh_release_of_solutions(module: Module, fresh_release) -> None:
    released = files_under(fresh_release(module))
    committed = files_under(module.lab.parent)
    assert released.keys() == committed.keys(), "run `aie release` and commit labs/"
    for name in released:
        assert released[name] == committed[name], f"labs/{module.id}/{name} is stale: run `aie release {module.id}`"


def secret_lines(module: Module) -> list[str]:
    """Lines of solutions, hidden tests and model answers that a learner must never see."""
    nb = nbformat.read(module.solution, as_version=4)
    secrets: list[str] = []
    for _, cell in answer_cells(nb):
        secrets += [line for region in SOLUTION_REGION.findall(cell.source) for line in region.splitlines()]
    for _, cell in autograded_cells(nb):
        secrets += [line for region in HIDDEN_REGION.findall(cell.source) for line in region.splitlines()]
    for cell in nb.cells:
        if is_written_answer(cell):
            secrets += cell.source.splitlines()
    # Short lines ("return x", blank lines) are not evidence of a leak on their own.
    return [line.strip() for line in secrets if len(line.strip()) >= 25]


@pytest.mark.parametrize("module", module_params())
def test_no_solution_hidden_test_or_model_answer_reaches_labs(module: Module) -> None:
    secrets = secret_lines(module)
    assert secrets, "the solution notebook has no solution or hidden test to protect"
    for path in module.lab.parent.rglob("*"):
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        leaked = [line for line in secrets if line in text]
        assert not leaked, f"{path.relative_to(ROOT)} holds instructor text: {leaked[:3]}"
        for marker in INSTRUCTOR_MARKERS:
            assert marker not in text, f"{path.relative_to(ROOT)} holds the marker {marker!r}"


@pytest.mark.parametrize("module", module_params())
def test_labs_carry_no_outputs_and_only_student_metadata(module: Module) -> None:
    nb = json.loads(module.lab.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        assert set(cell.get("metadata", {})) <= STUDENT_CELL_KEYS, cell.get("metadata")
        assert set(nbgrader_meta(cell)) <= STUDENT_NBGRADER_KEYS, nbgrader_meta(cell)
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
    assert set(nb["metadata"]) <= {"kernelspec", "language_info"}, nb["metadata"]
