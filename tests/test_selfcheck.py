"""The learner's self-check (`aie check`) and progress (`aie progress`), offline, on lab 01."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

import grader.selfcheck as selfcheck
from grader.cli import main
from tests.adversarial import MODULE, correct

pytestmark = [pytest.mark.notebooks, pytest.mark.xdist_group(MODULE.id)]

WRONG_COSINE = """
def cosine_similarity_matrix(A, B):
    return A @ B.T
"""


@pytest.fixture
def learner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A learner's copy of the labs, and a progress file of their own."""
    monkeypatch.setattr(selfcheck, "PROGRESS_FILE", tmp_path / ".aie" / "progress.json")
    labs = tmp_path / "labs"
    shutil.copytree(MODULE.lab.parent, labs / MODULE.id)
    return labs / MODULE.id / "lab.ipynb"


def test_an_unanswered_lab_fails_with_every_exercise_not_answered(learner: Path, capsys) -> None:
    assert main(["check", str(learner)]) == 1
    report = selfcheck.check_notebook(learner)
    assert report.exercises and not any(e.answered for e in report.exercises)
    assert not report.other_errors, "only the stubs and their tests may fail in an unanswered lab"
    assert "not answered" in capsys.readouterr().out


def test_a_wrong_answer_is_named_with_its_first_failing_test(learner: Path) -> None:
    nbformat.write(correct(cosine_similarity_matrix=WRONG_COSINE), learner)
    report = selfcheck.check_notebook(learner)
    status = {e.exercise: e for e in report.exercises}
    assert not status["cosine_similarity_matrix"].passed
    assert status["cosine_similarity_matrix"].first_failure.startswith("cosine_similarity_matrix__")
    assert all(e.passed for name, e in status.items() if name != "cosine_similarity_matrix")
    assert "FAILED" in selfcheck.format_report(report)
    assert sum(e.hidden_max for e in report.exercises) > 0, "the report says hidden tests come later"


def test_a_correct_lab_passes_and_progress_shows_it(learner: Path, capsys) -> None:
    nbformat.write(correct(), learner)
    assert main(["check", str(learner)]) == 0
    table = selfcheck.progress_table(labs_root=learner.parent.parent)
    row = next(line for line in table.splitlines() if line.startswith(MODULE.id))
    assert "all passed" in row and "5/5" in row
    assert "% of exercises answered" in table
