"""Kernels forked from a preloaded server: as confined as a kernel in a bubblewrap of its own, and faster.

Each test runs a few cells in kernels forked, one after another, from one
server for one sandbox user, as a grading worker does. A cell's failed
assertion is the test's message.
"""

from __future__ import annotations

import ast
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from grader.autograde import GradedCell, kernel_kind, kernel_manager, run_cells
from grader.course import load_syllabus
from grader.forkserver import KERNEL_MODULES, KernelForkServer, imported_modules, modules_to_preload
from grader.sandbox import Sandbox, SandboxLimits, reserved_uids

MODULE = load_syllabus().module("01-linear-algebra")
SOLUTION = nbformat.read(MODULE.solution, as_version=4)
LIMITS = SandboxLimits(cell_seconds=20, submission_seconds=60)
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="kernels are forked only by a grader running as root")


def test_preload_takes_the_imports_of_the_visible_cells_only() -> None:
    preload = modules_to_preload(SOLUTION)
    assert {"numpy", "matplotlib.pyplot", "sklearn.datasets", "aie.checks", "aie.recording"} <= set(preload)
    assert "ipykernel.kernelapp" in preload
    # What the hidden tests import would show in a student's sys.modules.
    hidden_imports = {"scipy.spatial.distance", "sklearn.metrics.pairwise", "sklearn.decomposition"}
    assert not hidden_imports & set(preload), hidden_imports & set(preload)


def test_imported_modules_reads_every_import_form() -> None:
    source = "import a.b as c, d\nfrom e.f import g\nfrom . import h\nif x:\n    import i\n"
    assert imported_modules(source) == ["a.b", "d", "e.f", "i"]
    assert imported_modules("def broken(:") == []


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[KernelForkServer, Path]]:
    with reserved_uids(1) as (uid,):
        work_root = Path(tempfile.mkdtemp(prefix="aie-fs-", dir="/tmp"))
        work_root.chmod(0o711)
        workspace = work_root / f"user-{uid}"
        workspace.mkdir(mode=0o711)
        forkserver = KernelForkServer(Sandbox(workspace, LIMITS, uid=uid), modules_to_preload(SOLUTION))
        forkserver.start()
        try:
            assert forkserver.usable(), forkserver.problem
            assert not forkserver.failed_preloads
            yield forkserver, workspace
        finally:
            forkserver.close()
            shutil.rmtree(work_root, ignore_errors=True)


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A work folder with a short path: an IPC socket's path must fit in 107 bytes, and pytest's are long."""
    folder = Path(tempfile.mkdtemp(prefix="aie-fs-", dir="/tmp"))
    folder.chmod(0o711)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def run_forked(server: tuple[KernelForkServer, Path], name: str, *sources: str) -> list[str | None]:
    """Run ``sources`` as cells of one forked kernel; return each cell's error."""
    forkserver, workspace = server
    sandbox = Sandbox(workspace / name, LIMITS, uid=forkserver.uid)
    sandbox.prepare()
    km = kernel_manager(sandbox, forkserver)
    assert kernel_kind(km) == "forked"
    runs, stopped = run_cells([GradedCell("plain", s) for s in sources], sandbox, LIMITS, km)
    assert stopped is None, stopped
    return [run.error for run in runs]


@root_only
def test_a_forked_kernel_is_the_sandbox_user_without_privileges(server) -> None:
    uid = server[0].uid
    errors = run_forked(server, "privileges", f"""
import os, resource
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
assert os.getuid() == os.geteuid() == {uid}, os.getuid()
assert os.getgid() == {uid} and os.getgroups() == [], (os.getgid(), os.getgroups())
for field in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
    assert int(status[field], 16) == 0, (field, status[field])
assert status["NoNewPrivs"].strip() == "1"
assert resource.getrlimit(resource.RLIMIT_NPROC) == ({LIMITS.processes}, {LIMITS.processes})
assert resource.getrlimit(resource.RLIMIT_AS)[0] == {LIMITS.memory_bytes}
assert os.getcwd() == os.environ["HOME"]
""")
    assert errors == [None]


@root_only
def test_a_forked_kernel_cannot_reach_its_server_or_the_course(server) -> None:
    errors = run_forked(server, "reach", f"""
import matplotlib, os, signal
server = os.getppid()
for attempt in (lambda: os.kill(server, signal.SIGKILL), lambda: open(f"/proc/{{server}}/mem", "rb"),
                lambda: os.listdir(f"/proc/{{server}}/fd"), lambda: open(os.path.dirname(os.getcwd()) + "/../x", "w"),
                lambda: open({str(MODULE.solution)!r}), lambda: open(matplotlib.get_cachedir() + "/probe", "w")):
    try:
        attempt()
    except OSError:
        continue
    raise AssertionError("allowed: " + repr(attempt))
""", "import socket\ntry:\n    socket.create_connection(('1.1.1.1', 80), timeout=2)\nexcept OSError:\n    pass\n"
         "else:\n    raise AssertionError('reached the network')")
    assert errors == [None, None]
    assert server[0].usable(), "the server did not survive its kernel's attempts"


@root_only
def test_nothing_one_kernel_leaves_reaches_the_next(server) -> None:
    # SysV shared memory outlives its process; a detached process would outlive the kernel; the legacy numpy
    # generator was seeded once, in the server.
    leave = """
import ctypes, os, subprocess, numpy as np
libc = ctypes.CDLL(None, use_errno=True)
assert libc.shmget(0x5eed, 4096, 0o1666) >= 0, ctypes.get_errno()
subprocess.Popen(["sleep", "300"], start_new_session=True)
if os.fork() == 0:  # a fork bomb held at the process limit: a freed slot is soon taken again
    import time
    os.setsid()
    while True:
        try:
            os.fork()
        except OSError:
            time.sleep(0.01)  # not a busy loop: the tests beside this one measure time
print(np.random.random())
"""
    first = run_forked(server, "first", leave, "import numpy as np\nfirst_draw = np.random.random()")
    assert first == [None, None]
    errors = run_forked(server, "second", """
import ctypes, os, numpy as np
libc = ctypes.CDLL(None, use_errno=True)
assert libc.shmget(0x5eed, 4096, 0) == -1, "the last kernel's shared memory is still there"
others = [p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()
          and os.stat(f"/proc/{p}").st_uid == os.getuid()]
assert not others, f"processes of the last kernel are alive: {others}"
""")
    assert errors == [None]


@root_only
def test_forked_kernels_draw_different_random_numbers(short_tmp: Path) -> None:
    # numpy's legacy generator and torch's default one were seeded once, in the server: without a reseed in each
    # child, every student would draw the same numbers.
    draw = ("import random, numpy as np, torch\n"
            "open('draw', 'w').write(repr((random.random(), np.random.random(), torch.rand(1).item())))")
    with reserved_uids(1) as (uid,):
        workspace = short_tmp / f"user-{uid}"
        workspace.mkdir(mode=0o711)
        preload = ["random", "numpy", "torch", *KERNEL_MODULES]
        forkserver = KernelForkServer(Sandbox(workspace, LIMITS, uid=uid), preload)
        forkserver.start()
        try:
            draws = []
            for name in ("draw-a", "draw-b"):
                sandbox = Sandbox(workspace / name, LIMITS, uid=uid)
                sandbox.prepare()
                km = kernel_manager(sandbox, forkserver)
                assert kernel_kind(km) == "forked", forkserver.problem
                runs, _ = run_cells([GradedCell("plain", draw)], sandbox, LIMITS, km)
                assert runs[0].error is None, runs[0].error
                draws.append(ast.literal_eval((sandbox.scratch / "draw").read_text()))
        finally:
            forkserver.close()
    for generator, first, second in zip(("random", "numpy", "torch"), *draws, strict=True):
        assert first != second, f"{generator} drew {first} in both kernels"


@root_only
def test_the_labs_imports_are_done_before_the_first_cell(server) -> None:
    errors = run_forked(server, "imports", """
import sys, time
assert {"numpy", "sklearn.datasets", "matplotlib.pyplot"} <= set(sys.modules)
start = time.perf_counter()
import matplotlib.pyplot as plt, numpy as np
from sklearn.datasets import load_digits
assert time.perf_counter() - start < 0.05, time.perf_counter() - start
""", "import matplotlib\nassert 'inline' in matplotlib.get_backend(), matplotlib.get_backend()")
    assert errors == [None, None]


@root_only
def test_a_server_that_ended_leaves_kernels_to_a_bubblewrap_each(short_tmp: Path) -> None:
    with reserved_uids(1) as (uid,):
        workspace = short_tmp / f"user-{uid}"
        workspace.mkdir(mode=0o711)
        forkserver = KernelForkServer(Sandbox(workspace, LIMITS, uid=uid), ["numpy"])
        forkserver.start()
        assert forkserver.usable()
        forkserver.close()
        sandbox = Sandbox(workspace / "job", LIMITS, uid=uid)
        sandbox.prepare()
        km = kernel_manager(sandbox, forkserver)
        assert kernel_kind(km) == "sandboxed" and forkserver.problem
        runs, stopped = run_cells([GradedCell("plain", "import os\nassert os.getuid() != 0")], sandbox, LIMITS, km)
        assert stopped is None and runs[0].error is None


def test_the_summary_shows_how_kernels_were_started() -> None:
    from grader.autograde import SubmissionResult
    from grader.batch import summary_table

    results = [SubmissionResult("a", MODULE.id, kernel="forked"), SubmissionResult("b", MODULE.id, kernel="forked"),
               SubmissionResult("c", MODULE.id, kernel="sandboxed"), SubmissionResult("d", MODULE.id, error="not JSON")]
    assert summary_table(results).splitlines()[-1] == "kernels: 2 forked, 1 sandboxed"


@root_only
def test_a_server_that_breaks_as_a_kernel_starts_costs_the_student_nothing(short_tmp: Path) -> None:
    from grader.autograde import grade_submission
    from grader.batch import BatchSettings, load_golden

    class BreaksOnSpawn(KernelForkServer):
        def spawn(self, *args: object, **kwargs: object) -> int:
            raise self._broken("the server died as it forked")

    golden = load_golden(BatchSettings(assignment=MODULE.id, autograded=short_tmp / "autograded"), MODULE.solution)
    with reserved_uids(1) as (uid,):
        workspace = short_tmp / f"user-{uid}"
        workspace.mkdir(mode=0o711)
        forkserver = BreaksOnSpawn(Sandbox(workspace, LIMITS, uid=uid), ["numpy", *KERNEL_MODULES])
        forkserver.start()
        try:
            assert forkserver.usable()
            sandbox = Sandbox(workspace / "student", LIMITS, uid=uid)
            result = grade_submission(MODULE.solution, SOLUTION, golden, "student", MODULE.id, sandbox, LIMITS,
                                      forkserver)
        finally:
            forkserver.close()
    assert result.kernel == "sandboxed" and result.error is None, (result.kernel, result.error)
    assert result.score == result.max_score


def test_a_job_folder_too_deep_for_a_socket_is_refused_before_a_kernel_starts(tmp_path: Path) -> None:
    from grader.sandbox import SandboxUnavailable

    with pytest.raises(SandboxUnavailable, match="too deep"):
        Sandbox(tmp_path / ("d" * 120)).prepare()
    work_root = Path(tempfile.mkdtemp(prefix="aie-grade-", dir="/tmp"))
    try:
        Sandbox(work_root / "user-62999" / "job-99999").prepare()  # the batch's own layout fits
    finally:
        shutil.rmtree(work_root)
