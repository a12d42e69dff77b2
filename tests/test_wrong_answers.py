"""Each exercise's tests reject the authors' plausible wrong answers and accept correct alternatives.

The solution notebook is executed once (the `live_solution` fixture); each answer
is swapped into its kernel and only that exercise's test cells are re-run.
"""

from __future__ import annotations

import nbformat
import pytest

from grader.answers import MIN_CORRECT_ALTERNATIVES, MIN_WRONG_ANSWERS, Answer, load_answers, verdict
from grader.cells import answer_cells, grade_id
from grader.course import Module, load_syllabus

pytestmark = pytest.mark.notebooks


def answer_params() -> list:
    params = []
    for module in load_syllabus().modules:
        if not module.answers.exists():
            continue
        for answer in load_answers(module.answers):
            kind = "correct" if answer.correct else "wrong"
            params.append(
                pytest.param(module, answer, id=f"{module.id}:{answer.exercise}:{kind}:{answer.name}",
                             marks=pytest.mark.xdist_group(module.id))
            )
    return params


@pytest.mark.parametrize("module", [pytest.param(m, id=m.id) for m in load_syllabus().modules])
def test_every_exercise_lists_enough_wrong_and_correct_answers(module: Module) -> None:
    assert module.answers.exists(), f"write {module.answers.name} with each exercise's wrong answers"
    answers = load_answers(module.answers)
    exercises = {grade_id(cell) for _, cell in answer_cells(nbformat.read(module.solution, as_version=4))}
    listed = {a.exercise for a in answers}
    assert listed <= exercises, f"answers for exercises the lab does not have: {listed - exercises}"
    for exercise in sorted(exercises):
        wrong = [a for a in answers if a.exercise == exercise and not a.correct]
        correct = [a for a in answers if a.exercise == exercise and a.correct]
        assert len(wrong) >= MIN_WRONG_ANSWERS, f"{exercise}: {len(wrong)} wrong answers, need {MIN_WRONG_ANSWERS}"
        assert len(correct) >= MIN_CORRECT_ALTERNATIVES, f"{exercise}: no correct alternative"


@pytest.mark.parametrize(("module", "answer"), answer_params())
def test_answer_gets_the_verdict_it_deserves(module: Module, answer: Answer, live_solution) -> None:
    result = verdict(live_solution(module), answer)
    if answer.correct:
        assert not result.rejected, f"a correct answer fails: {[str(f) for f in result.failures]}"
    else:
        assert result.rejected, f"the tests accept a wrong answer ({answer.why}): add a hidden test"
