"""Every notebook runs top to bottom in a fresh kernel, inside the time limit, and labs run with their stubs."""

from __future__ import annotations

import pytest

from grader.cells import is_answer, is_test
from grader.course import Module
from grader.execute import run_notebook
from tests.conftest import NOTEBOOK_SECONDS_LIMIT, module_params, record_run

pytestmark = pytest.mark.notebooks

# A test cell of an unanswered exercise fails with the stub's error, or with a NameError
# when it uses a variable that an unanswered cell would have defined.
STUB_ERRORS = {"NotImplementedError", "NameError"}


@pytest.mark.parametrize("module", module_params())
def test_lecture_runs_without_errors_in_time(module: Module) -> None:
    report = run_notebook(module.lecture)
    record_run(report)
    assert not report.errors, "\n".join(map(str, report.errors))
    assert report.seconds < NOTEBOOK_SECONDS_LIMIT, f"{module.lecture.name} took {report.seconds:.0f} s"


@pytest.mark.parametrize("module", module_params())
def test_solution_runs_and_passes_its_own_tests_in_time(module: Module, live_solution) -> None:
    report = live_solution(module).report
    assert not report.errors, "\n".join(map(str, report.errors))
    assert report.seconds < NOTEBOOK_SECONDS_LIMIT, f"{module.solution} took {report.seconds:.0f} s"


@pytest.mark.parametrize("module", module_params())
def test_student_lab_fails_only_where_exercises_are_unanswered(module: Module) -> None:
    report = run_notebook(module.lab)
    record_run(report)
    cells = {index: cell for index, cell in enumerate(report_cells(module))}
    unexpected = []
    for error in report.errors:
        cell = cells[error.index]
        allowed = is_test(cell) and error.ename in STUB_ERRORS
        allowed |= is_answer(cell) and error.ename == "NotImplementedError"
        if not allowed:
            unexpected.append(str(error))
    assert not unexpected, "cells that fail in the student notebook for another reason:\n" + "\n".join(unexpected)
    assert report.errors, "no test failed in the unanswered notebook: the tests cannot fail"
    assert report.seconds < NOTEBOOK_SECONDS_LIMIT


def report_cells(module: Module) -> list:
    import nbformat

    return nbformat.read(module.lab, as_version=4).cells
