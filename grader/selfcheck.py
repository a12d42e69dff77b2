"""The learner's side: `aie check` runs their notebook and says what passes; `aie progress` sums up the course.

Both work offline with the learner's own files only: no gradebook, no solutions.
Hidden tests are not in a learner's notebook; the grader adds them later.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from grader.cells import answer_cells, autograded_cells, exercise_of, grade_id, is_written_answer, nbgrader_meta
from grader.course import ROOT, load_syllabus
from grader.execute import LiveNotebook
from grader.transform import rewrite_checks

PROGRESS_FILE = ROOT / ".aie" / "progress.json"
STUB_MARKER = "raise NotImplementedError()"


@dataclass
class ExerciseStatus:
    exercise: str
    answered: bool
    visible_points: float = 0.0
    visible_max: float = 0.0
    hidden_max: float = 0.0
    first_failure: str = ""

    @property
    def passed(self) -> bool:
        return self.answered and not self.first_failure


@dataclass
class CheckReport:
    notebook: str
    exercises: list[ExerciseStatus] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    other_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    checked_at: float = 0.0

    @property
    def passed(self) -> bool:
        return all(e.passed for e in self.exercises) and not self.other_errors


def check_notebook(path: Path) -> CheckReport:
    """Run the notebook top to bottom in a fresh kernel and summarise it per exercise."""
    with LiveNotebook(path) as live:
        nb, run = live.nb, live.report
    errors = {e.index: e for e in run.errors}
    statuses = {
        grade_id(cell): ExerciseStatus(grade_id(cell), STUB_MARKER not in cell.source)
        for _, cell in answer_cells(nb)
    }
    report = CheckReport(str(path), seconds=run.seconds, checked_at=time.time())
    tested = set()
    for index, cell in autograded_cells(nb):
        status = statuses.get(exercise_of(grade_id(cell)))
        if status is None:
            continue
        tested.add(index)
        points = float(nbgrader_meta(cell).get("points", 0))
        if rewrite_checks(cell.source, "record")[1] == 0:  # only hidden tests: they run at grading
            status.hidden_max += points
            continue
        status.visible_max += points
        if index in errors:
            error = errors[index]
            status.first_failure = status.first_failure or f"{grade_id(cell)}: {error.ename}: {error.evalue}"
        else:
            status.visible_points += points
    for index, error in errors.items():
        if index not in tested and not (nb.cells[index].cell_type == "code" and grade_id(nb.cells[index]) in statuses):
            report.other_errors.append(str(error))
    report.exercises = list(statuses.values())
    report.written = [grade_id(c) for c in nb.cells if is_written_answer(c) and "YOUR ANSWER HERE" not in c.source]
    return report


def format_report(report: CheckReport) -> str:
    lines = [f"{report.notebook}  ({report.seconds:.1f} s)", ""]
    lines.append(f"{'exercise':<32} {'status':<12} {'visible points':>15}  first failing test")
    for e in report.exercises:
        status = "not answered" if not e.answered else ("passed" if e.passed else "FAILED")
        points = f"{e.visible_points:g} / {e.visible_max:g}"
        failure = e.first_failure.splitlines()[0][:80] if e.first_failure else ""
        lines.append(f"{e.exercise:<32} {status:<12} {points:>15}  {failure}")
    hidden = sum(e.hidden_max for e in report.exercises)
    lines += ["", f"Hidden tests worth {hidden:g} more points run when your notebook is graded."]
    if report.written:
        lines.append(f"Written answers graded by hand: {', '.join(report.written)}")
    for error in report.other_errors:
        lines.append(f"Another cell failed: {error}")
    return "\n".join(lines)


def remember(report: CheckReport) -> None:
    PROGRESS_FILE.parent.mkdir(parents=True, exist_ok=True)
    saved = json.loads(PROGRESS_FILE.read_text(encoding="utf-8")) if PROGRESS_FILE.exists() else {}
    saved[str(Path(report.notebook).resolve())] = asdict(report)
    PROGRESS_FILE.write_text(json.dumps(saved, indent=1), encoding="utf-8")


def progress_table(labs_root: Path = ROOT / "labs") -> str:
    """One line per module of the syllabus: exercises answered, and the last `aie check` result."""
    saved = json.loads(PROGRESS_FILE.read_text(encoding="utf-8")) if PROGRESS_FILE.exists() else {}
    lines = [f"{'module':<28} {'answered':>9} {'last check':>12}  {'visible points':>15}", "-" * 72]
    total_answered = total_exercises = 0
    for module in load_syllabus().modules:
        lab = labs_root / module.id / "lab.ipynb"
        if not lab.exists():
            lines.append(f"{module.id:<28} {'-':>9} {'no lab':>12}")
            continue
        nb = nbformat.read(lab, as_version=4)
        cells = [cell for _, cell in answer_cells(nb)]
        answered = sum(STUB_MARKER not in c.source for c in cells)
        total_answered += answered
        total_exercises += len(cells)
        last = saved.get(str(lab.resolve()))
        if last is None:
            check, points = "never", ""
        else:
            report = CheckReport(**{**last, "exercises": [ExerciseStatus(**e) for e in last["exercises"]]})
            check = "all passed" if report.passed else "some failed"
            points = f"{sum(e.visible_points for e in report.exercises):g} / " \
                     f"{sum(e.visible_max for e in report.exercises):g}"
        lines.append(f"{module.id:<28} {f'{answered}/{len(cells)}':>9} {check:>12}  {points:>15}")
    share = total_answered / total_exercises if total_exercises else 0.0
    bar = "#" * round(30 * share) + "." * (30 - round(30 * share))
    lines += ["", f"course progress [{bar}] {share:.0%} of exercises answered"]
    return "\n".join(lines)
