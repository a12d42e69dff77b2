"""Grades for an LMS (one row per student, one column per assignment, a total) and item analysis.

Item analysis reads the per-submission results that `aie grade` keeps: the
pass rate of every test, and which failing checks are the most common (they
point at the wrong answers a cohort gives most often).
"""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from pathlib import Path

from nbgrader.api import Gradebook

from grader.gradebook import COURSE_ID


def export_grades(db_url: str, destination: Path) -> int:
    """Write ``student_id, <assignment>..., total`` to CSV; return the number of students."""
    with Gradebook(db_url, COURSE_ID) as gb:
        assignments = sorted(a.name for a in gb.assignments)
        rows = []
        for student in sorted(gb.students, key=lambda s: s.id):
            scores = {}
            for assignment in assignments:
                try:
                    scores[assignment] = gb.find_submission(assignment, student.id).score
                except Exception:  # noqa: BLE001 (no submission: an empty cell, not a zero the LMS would average)
                    scores[assignment] = ""
            total = sum(s for s in scores.values() if s != "")
            rows.append({"student_id": student.id, **scores, "total": total})
    destination.parent.mkdir(parents=True, exist_ok=True)
    with destination.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["student_id", *assignments, "total"])
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def load_results(results_dir: Path, assignment: str) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(results_dir.glob(f"*/{assignment}/result.json"))]


def item_analysis(results: list[dict]) -> tuple[list[dict], list[tuple[str, int]]]:
    """Per test: attempts, passes, pass rate. And the failing checks, most common first."""
    attempts: Counter[str] = Counter()
    passes: Counter[str] = Counter()
    failing_checks: Counter[str] = Counter()
    points = defaultdict(float)
    for result in results:
        for test in result["tests"]:
            attempts[test["grade_id"]] += 1
            points[test["grade_id"]] = test["max_points"]
            if test["points"] == test["max_points"]:
                passes[test["grade_id"]] += 1
            else:
                message = test["message"]
                name = message[1 : message.index("]")] if message.startswith("[") and "]" in message else message[:60]
                failing_checks[name] += 1
    table = [
        {"test": t, "points": points[t], "attempts": attempts[t], "passed": passes[t],
         "pass_rate": round(passes[t] / attempts[t], 3)}
        for t in attempts
    ]
    return table, failing_checks.most_common()


def write_item_analysis(results: list[dict], csv_path: Path, plot_path: Path | None = None) -> None:
    table, failing = item_analysis(results)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["test", "points", "attempts", "passed", "pass_rate"])
        writer.writeheader()
        writer.writerows(table)
    (csv_path.with_suffix(".failures.csv")).write_text(
        "check_or_error,count\n" + "".join(f'"{name.replace(chr(34), "")}",{n}\n' for name, n in failing),
        encoding="utf-8",
    )
    if plot_path is not None and table:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 0.35 * len(table) + 1))
        ax.barh([row["test"] for row in table], [row["pass_rate"] for row in table], color="#3b7dd8")
        ax.set(xlim=(0, 1), xlabel="pass rate", title="Item analysis: share of submissions passing each test")
        ax.invert_yaxis()
        fig.tight_layout()
        fig.savefig(plot_path, dpi=100)
        plt.close(fig)
