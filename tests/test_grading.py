"""The grader against a corpus of honest and adversarial submissions (tests/adversarial.py).

One sandboxed batch grades the whole corpus; each test then reads what it needs
from its results, the gradebook, the feedback pages and the machine's process
table. All tests here run on one pytest-xdist worker (one batch, two grading jobs).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from grader.autograde import SubmissionResult
from grader.batch import BatchSettings, grade_batch, result_path
from grader.export import export_grades, item_analysis, load_results, write_item_analysis
from grader.gradebook import COURSE_ID, stored_score
from grader.sandbox import SandboxLimits
from tests.adversarial import CORPUS, DAEMON_TOKEN, FULL, MODULE, Submission, correct, only, solution_answers

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grading")]

LIMITS = SandboxLimits(cell_seconds=10, submission_seconds=60, cpu_seconds=60)
PROTECTED = [MODULE.solution, MODULE.lab, MODULE.lecture]


def digest(paths: list[Path]) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def settings_for(base: Path, **overrides: object) -> BatchSettings:
    settings = {"workers": 2, "limits": LIMITS, **overrides}
    return BatchSettings(
        assignment=MODULE.id, submitted=base / "submitted", autograded=base / "autograded",
        feedback=base / "feedback", db_url=f"sqlite:///{base / 'gradebook.db'}", **settings,
    )


@pytest.fixture(scope="module")
def corpus_batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[BatchSettings, dict[str, SubmissionResult]]:
    base = tmp_path_factory.mktemp("corpus")
    for submission in CORPUS:
        submission.write(base / "submitted")
    before = digest(PROTECTED)
    settings = settings_for(base)
    results, skipped = grade_batch(settings)
    assert not skipped
    assert digest(PROTECTED) == before, "a submission changed the course's files"
    return settings, {r.student: r for r in results}


def test_corpus_covers_the_attack_categories() -> None:
    categories = {s.category for s in CORPUS}
    assert len([s for s in CORPUS if s.category != "honest"]) >= 20
    assert {"checker tampering", "reading hidden material", "writing outside", "resource exhaustion",
            "malformed notebook", "metadata tampering"} <= categories


@pytest.mark.parametrize("submission", CORPUS, ids=[s.name for s in CORPUS])
def test_submission_gets_exactly_the_score_it_deserves(corpus_batch, submission: Submission) -> None:
    settings, results = corpus_batch
    result = results[submission.name]
    failures = [f"{t.grade_id}: {t.message[:120]}" for t in result.tests if not t.passed]
    assert result.score == submission.expected_score, (submission.what, result.error, failures)
    assert result.max_score == FULL
    assert stored_score(settings.db_url, MODULE.id, submission.name) == submission.expected_score


def test_every_submission_of_the_batch_is_in_the_gradebook_once(corpus_batch) -> None:
    settings, results = corpus_batch
    assert set(results) == {s.name for s in CORPUS}
    with Gradebook(settings.db_url, COURSE_ID) as gb:
        students = [s.student.id for s in gb.find_assignment(MODULE.id).submissions]
    assert sorted(students) == sorted(results)


def test_broken_notebooks_get_a_clear_message(corpus_batch) -> None:
    _, results = corpus_batch
    for name, phrase in [("not-json", "invalid JSON"), ("nbformat-3", "nbformat 3"), ("no-cells", "no cells"),
                         ("fifty-megabytes", "limit"), ("exit-early", "kernel died"),
                         ("uninterruptible-loop", "time limit")]:
        assert phrase in (results[name].error or ""), (name, results[name].error)


def test_an_answer_that_loops_costs_the_cell_limit_once_not_once_per_test(corpus_batch) -> None:
    _, results = corpus_batch
    looping = results["infinite-loop-in-function"]
    messages = [t.message for t in looping.tests if t.grade_id.startswith("pca__")]
    assert len(messages) >= 2 and "limit per cell" in messages[0], messages
    assert all(m.startswith("not run: an earlier test of pca") for m in messages[1:]), messages
    assert looping.seconds < LIMITS.cell_seconds * 2 + 30, "every pca test waited for the cell limit"


def test_no_process_a_student_started_outlives_the_batch(corpus_batch) -> None:
    leftovers = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if DAEMON_TOKEN.encode() in cmdline.read_bytes():
                leftovers.append(cmdline.parent.name)
        except OSError:
            continue
    assert not leftovers, f"processes left by a submission: {leftovers}"


@pytest.mark.skipif(os.geteuid() != 0, reason="kernels are forked only by a grader running as root")
def test_every_kernel_was_forked_from_a_preloaded_server(corpus_batch) -> None:
    _, results = corpus_batch
    kinds = {r.student: r.kernel for r in results.values() if r.kernel}
    assert len(kinds) >= len(results) - 5, "the malformed notebooks are the only ones that never start a kernel"
    assert set(kinds.values()) == {"forked"}, {s: k for s, k in kinds.items() if k != "forked"}


def test_feedback_escapes_what_a_student_wrote(corpus_batch) -> None:
    settings, _ = corpus_batch
    page = (settings.feedback / "script-in-feedback" / MODULE.id / "feedback.html").read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    assert "&lt;script&gt;" in page
    assert "default-src 'none'" in page


def test_feedback_names_hidden_tests_without_their_source_or_reference_values(corpus_batch) -> None:
    settings, results = corpus_batch
    page = (settings.feedback / "honest-partial" / MODULE.id / "feedback.html").read_text(encoding="utf-8")
    assert "cosine_similarity_matrix__hidden" in page
    assert "does not match the reference on the hidden inputs" in page
    for leaked in ("_sk_cosine", "default_rng(202)", "BEGIN HIDDEN", "Traceback"):
        assert leaked not in page
    visible = next(t for t in results["honest-partial"].tests
                   if t.grade_id == "cosine_similarity_matrix__small_example")
    assert "expected" in visible.message, "a visible test's message says what was expected"


def test_a_second_run_keeps_every_grade_without_regrading(corpus_batch) -> None:
    settings, first = corpus_batch
    kept = []
    start = time.perf_counter()
    results, _ = grade_batch(settings, on_result=lambda result, skipped: kept.append(skipped))
    assert all(kept) and len(kept) == len(CORPUS)
    assert time.perf_counter() - start < 60
    assert {r.student: r.score for r in results} == {name: r.score for name, r in first.items()}


def test_grades_export_for_an_lms_and_item_analysis(corpus_batch, tmp_path: Path) -> None:
    settings, results = corpus_batch
    csv_path = tmp_path / "grades.csv"
    assert export_grades(settings.db_url, csv_path) == len(results)
    lines = csv_path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == f"student_id,{MODULE.id},total"
    assert f"honest-correct,{FULL},{FULL}" in lines
    raw = load_results(settings.autograded, MODULE.id)
    table, failing = item_analysis(raw)
    rates = {row["test"]: row["pass_rate"] for row in table}
    assert 0 < rates["pairwise_sq_distances__small_example"] < 1
    assert failing and failing[0][1] >= failing[-1][1]
    write_item_analysis(raw, tmp_path / "items.csv", tmp_path / "items.png")
    assert (tmp_path / "items.png").stat().st_size > 1000


def test_a_killed_grader_resumes_without_losing_or_duplicating_grades(tmp_path: Path) -> None:
    honest = {f"student-{i}": (correct() if i % 2 else only(pairwise_sq_distances=solution_answers()[
        "pairwise_sq_distances"])) for i in range(4)}
    for student, nb in honest.items():
        Submission(student, "honest", lambda nb=nb: nb, 0.0, "").write(tmp_path / "submitted")
    settings = settings_for(tmp_path, workers=1)
    command = [sys.executable, "-m", "grader.cli", "grade", MODULE.id, "--workers", "1",
               "--submitted", str(settings.submitted), "--autograded", str(settings.autograded),
               "--feedback", str(settings.feedback), "--db", settings.db_url]
    grader = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 240
    while not any(result_path(settings, s).exists() for s in honest) and time.monotonic() < deadline:
        time.sleep(0.5)
    os.killpg(grader.pid, signal.SIGKILL)
    grader.wait()
    finished_before_kill = [s for s in honest if result_path(settings, s).exists()]
    assert 1 <= len(finished_before_kill) < len(honest), "the kill should land mid-batch"
    results, _ = grade_batch(settings)
    assert {r.student: r.score for r in results} == {s: (FULL if int(s[-1]) % 2 else 3.0) for s in honest}
    with Gradebook(settings.db_url, COURSE_ID) as gb:
        assert sorted(s.student.id for s in gb.find_assignment(MODULE.id).submissions) == sorted(honest)
