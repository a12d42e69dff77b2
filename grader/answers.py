"""The authors' plausible wrong answers, and the machinery that proves the tests reject them.

A module's `tests/answers/<module>.yml` maps each exercise (the grade id of an
answer cell) to `wrong` and `correct` lists of `{name, why, source}`. Each
source replaces the whole answer cell. `verdict` swaps one into the live kernel
of the executed solution notebook and re-runs only that exercise's test cells:
one notebook run serves every answer of every exercise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from grader.cells import answer_cells, autograded_cells, grade_id
from grader.execute import CellError, LiveNotebook

MIN_WRONG_ANSWERS = 3
MIN_CORRECT_ALTERNATIVES = 1


@dataclass(frozen=True)
class Answer:
    exercise: str
    name: str
    source: str
    correct: bool
    why: str = ""


def load_answers(path: Path) -> list[Answer]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    answers: list[Answer] = []
    for exercise, lists in raw.items():
        for kind, correct in (("wrong", False), ("correct", True)):
            for entry in lists.get(kind, []):
                answers.append(Answer(exercise, entry["name"], entry["source"], correct, entry.get("why", "")))
    return answers


@dataclass
class Verdict:
    """The exercise's test cells that failed with one answer in place."""

    answer: Answer
    failures: list[CellError]

    @property
    def rejected(self) -> bool:
        return bool(self.failures)


def verdict(live: LiveNotebook, answer: Answer) -> Verdict:
    """Swap ``answer`` into the live kernel, re-run the exercise's tests, then restore the solution."""
    original = {grade_id(cell): cell.source for _, cell in answer_cells(live.nb)}
    if answer.exercise not in original:
        raise KeyError(f"{answer.exercise!r} is not the grade id of an answer cell in {live.path}")
    failures: list[CellError] = []
    try:
        error = live.run_source(answer.source, grade_id=answer.exercise)
        if error is not None:
            # An answer that does not even define its function proves nothing about the tests.
            raise ValueError(f"the answer {answer.name!r} for {answer.exercise} fails on its own: {error}")
        for _, cell in autograded_cells(live.nb, answer.exercise):
            error = live.run_source(cell.source, grade_id=grade_id(cell))
            if error is not None:
                failures.append(error)
    finally:
        restore_error = live.run_source(original[answer.exercise], grade_id=answer.exercise)
        if restore_error is not None:
            raise RuntimeError(f"could not restore the solution of {answer.exercise}: {restore_error}")
    return Verdict(answer, failures)
