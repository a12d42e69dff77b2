"""Run a student's kernel in a bubblewrap sandbox, as another user, with resource limits.

What the kernel sees: a read-only view of the system and of the course's
environment (`.venv`, the `aie` helper package); a private writable scratch
folder (its HOME, TMPDIR and working directory) and the folder holding its
connection sockets. What it does not see: the course folder (solutions, hidden
tests, other submissions), the gradebook, the instructor's home, /tmp, the
network. It runs in its own PID namespace, so every process it starts dies
with it, and as an unprivileged user with all capabilities dropped, under
limits on CPU time, memory, processes, file size and open files.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from traitlets import Any, Instance, Unicode

from grader.course import ROOT

# Runs inside the sandbox before the kernel: apply the limits, then become ipykernel.
_LIMITS_LAUNCHER = """
import os, resource, sys
for name, value in {limits!r}.items():
    resource.setrlimit(getattr(resource, name), (value, value))
os.execv(sys.executable, [sys.executable, '-m', 'ipykernel_launcher'] + sys.argv[1:])
"""


# Run as the sandbox user: signal every process this user may signal, which are the user's own (not itself).
_KILL_ALL_OF_THIS_USER = "import os, signal; os.kill(-1, signal.SIGKILL)"


@dataclass(frozen=True)
class SandboxLimits:
    """Per-submission limits. Every number is a setting an instructor may need to change."""

    cpu_seconds: int = 300  # CPU time of the kernel process (RLIMIT_CPU); the kernel is killed past it
    memory_bytes: int = 4 * 1024**3  # address space (RLIMIT_AS); torch needs about 2 GiB of it just to import
    processes: int = 64  # processes and threads of the sandbox user (RLIMIT_NPROC)
    file_bytes: int = 64 * 1024**2  # the largest file the kernel may write (RLIMIT_FSIZE)
    open_files: int = 256  # RLIMIT_NOFILE
    cell_seconds: int = 60  # wall clock per cell; the cell is interrupted past it
    submission_seconds: int = 300  # wall clock for the whole submission; the sandbox is ended past it
    output_bytes: int = 1_000_000  # stream and display output kept per cell; the rest is dropped

    def rlimits(self, own_user: bool) -> dict[str, int]:
        """The limits to set. RLIMIT_NPROC counts every process of the user, so it only fits a user of its own."""
        limits = {
            "RLIMIT_CPU": self.cpu_seconds,
            "RLIMIT_AS": self.memory_bytes,
            "RLIMIT_FSIZE": self.file_bytes,
            "RLIMIT_NOFILE": self.open_files,
            "RLIMIT_CORE": 0,
        }
        if own_user:
            limits["RLIMIT_NPROC"] = self.processes
        return limits


MAX_SOCKET_PATH = 107  # sizeof(sockaddr_un.sun_path) on Linux, less its terminating NUL

# Sandbox users are numbers no account uses. Each grading process locks the ones it takes, so that two
# batches on one machine never share a user: a user's processes are killed when its job ends.
SANDBOX_UIDS = range(62000, 63000)
UID_LOCKS = Path("/run/aie-sandbox-uids") if Path("/run").is_dir() else Path("/tmp/aie-sandbox-uids")


@contextmanager
def reserved_uids(count: int) -> Iterator[list[int]]:
    """Lock ``count`` sandbox users for as long as the context lasts (root only)."""
    UID_LOCKS.mkdir(mode=0o700, parents=True, exist_ok=True)
    with ExitStack() as stack:
        taken: list[int] = []
        for uid in SANDBOX_UIDS:
            if len(taken) == count:
                break
            try:
                pwd.getpwuid(uid)
                continue  # a real account: never run student code as it
            except KeyError:
                pass
            lock = stack.enter_context(open(UID_LOCKS / f"{uid}.lock", "w"))  # noqa: SIM115 (closed by the stack)
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # another batch holds it
            taken.append(uid)
        if len(taken) < count:
            raise SandboxUnavailable(f"only {len(taken)} of {count} sandbox users are free in {SANDBOX_UIDS}")
        yield taken


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create namespaces here."""


def bubblewrap() -> str:
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is not installed, so student code cannot be sandboxed. "
            "Install it (Debian/Ubuntu: `sudo apt-get install bubblewrap`), or pass --no-sandbox to grade "
            "trusted notebooks only."
        )
    return path


@dataclass
class Sandbox:
    """One submission's sandbox: its scratch folders and the command that wraps the kernel."""

    job_dir: Path
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    uid: int | None = None  # run as this user (root only); None keeps the grader's user, still without capabilities
    hidden: tuple[Path, ...] = ()  # more folders to hide: the submissions root, the gradebook's folder

    @property
    def scratch(self) -> Path:
        return self.job_dir / "scratch"

    @property
    def connection_dir(self) -> Path:
        return self.job_dir / "connection"

    def prepare(self) -> None:
        # zmq names each socket <connection_dir>/kernel-<n>; Linux refuses socket paths past 107 bytes, and zmq
        # then fails in a way that leaves the grader's process unable to exit.
        longest = len(os.fsencode(self.connection_dir / "kernel-99999"))
        if longest > MAX_SOCKET_PATH:
            raise SandboxUnavailable(f"the job folder {self.job_dir} is too deep for a kernel's socket "
                                     f"({longest} bytes, at most {MAX_SOCKET_PATH}); grade from a shorter TMPDIR")
        for folder in (self.scratch, self.scratch / "tmp", self.connection_dir):
            folder.mkdir(parents=True, exist_ok=True)
            if self.uid is not None:
                os.chown(folder, self.uid, self.uid)
                folder.chmod(0o700)

    def end(self) -> None:
        """Kill whatever still runs as the sandbox's user: nothing a student starts may outlive their job.

        A process that is the user sends SIGKILL to every process it may signal (``kill(-1)``): all of
        the user's, in every namespace, in one pass of the kernel's process list, so a process that
        keeps forking cannot slip a child past it. Forked kernels share their server's PID namespace,
        so this, not the namespace, is what ends a job's processes; a pass over the process table
        catches any left.
        """
        if self.uid is None:
            return
        subprocess.run(["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups", "--",
                        sys.executable, "-I", "-S", "-c", _KILL_ALL_OF_THIS_USER], check=False,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for process in psutil.process_iter(["uids"]):
            try:
                if process.info["uids"] is not None and self.uid in process.info["uids"]:
                    process.kill()
            except psutil.Error:  # it ended on its own meanwhile
                pass

    def kernel_environment(self) -> dict[str, str]:
        """What the kernel's environment gets on top of `environment_for_kernel`: its scratch folder as home."""
        return {"HOME": str(self.scratch), "TMPDIR": str(self.scratch / "tmp"),
                "MPLCONFIGDIR": str(self.scratch / "tmp")}

    def bubblewrap_prefix(self, writable: list[Path], chdir: Path, env: dict[str, str]) -> list[str]:
        """bubblewrap up to its ``--``: the namespaces, the hidden folders, and ``writable`` bound read-write."""
        python_home = Path(sys.base_prefix).resolve()
        venv = Path(sys.prefix)
        command = [bubblewrap(), "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        # Hide what a student must not see, then give back the read-only parts the kernel needs.
        hidden = [Path(p) for p in ("/root", "/home", "/tmp", "/var/tmp", ROOT, *self.hidden) if Path(p).exists()]
        for secret in hidden:
            command += ["--tmpfs", str(secret)]
        mounts = [("--ro-bind", p) for p in (python_home, venv, ROOT / "aie")]
        mounts += [("--bind", p) for p in writable]
        for kind, path in mounts:
            # bubblewrap would create the folders leading to a mount point as 0700; the kernel must traverse them.
            for parent in reversed(path.parents):
                if any(parent != s and parent.is_relative_to(s) for s in hidden):
                    command += ["--perms", "0755", "--dir", str(parent)]
            command += [kind, str(path), str(path)]
        if self.uid is None:
            command += ["--unshare-all", "--cap-drop", "ALL"]  # network, PID, IPC, UTS, cgroup, user
        else:
            command += ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        command += ["--die-with-parent", "--new-session", "--chdir", str(chdir)]
        for name, value in env.items():
            command += ["--setenv", name, value]
        return [*command, "--unsetenv", "JPY_PARENT_PID", "--"]

    def wrap(self, kernel_argv: list[str]) -> list[str]:
        """The command that starts ``kernel_argv`` (``python -m ipykernel_launcher -f FILE``) in the sandbox.

        With ``uid`` (the grader runs as root), bubblewrap runs privileged to build the mounts and
        `setpriv` then becomes that user, with no capabilities and no way to regain any. Without it,
        bubblewrap runs unprivileged in a user namespace as the grader's own user.
        """
        command = self.bubblewrap_prefix([self.scratch, self.connection_dir], self.scratch, self.kernel_environment())
        if self.uid is not None:
            command += ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups",
                        "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
        launcher = _LIMITS_LAUNCHER.format(limits=self.limits.rlimits(own_user=self.uid is not None))
        # kernel_argv is [python, -m, ipykernel_launcher, -f, FILE]: keep the interpreter and the arguments.
        return command + [kernel_argv[0], "-c", launcher, *kernel_argv[3:]]


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel runs inside a `Sandbox`, reached over IPC sockets in its folder."""

    sandbox = Instance(Sandbox, allow_none=False)
    interrupt_mode = Unicode("message", help="'message' interrupts a cell without killing the kernel")
    _spec = Any(None)

    def __init__(self, sandbox: Sandbox, **kwargs: object) -> None:
        super().__init__(
            sandbox=sandbox,
            kernel_name="python3",
            kernel_spec_manager=KernelSpecManager(kernel_dirs=[]),
            transport="ipc",
            ip=str(sandbox.connection_dir / "kernel"),
            connection_file=str(sandbox.connection_dir / "kernel.json"),
            **kwargs,
        )

    @property
    def kernel_spec(self) -> KernelSpec | None:
        if self._spec is None:
            native = self.kernel_spec_manager.get_kernel_spec("python3")
            self._spec = KernelSpec(
                argv=native.argv, display_name=native.display_name, language=native.language,
                interrupt_mode=self.interrupt_mode, resource_dir=native.resource_dir,
            )
        return self._spec

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        return self.sandbox.wrap(super().format_kernel_cmd(extra_arguments))

    def write_connection_file(self, **kwargs: object) -> None:
        super().write_connection_file(**kwargs)
        if self.sandbox.uid is not None:  # the kernel's user must read it; nobody else can reach the folder
            os.chown(self.connection_file, self.sandbox.uid, self.sandbox.uid)


def environment_for_kernel() -> dict[str, str]:
    """The grader's environment minus what a kernel must not inherit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JPY_", "JUPYTER_"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTHONPATH", None)
    # One job per core: a kernel's BLAS and OpenMP threads would only fight the other jobs for it.
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(variable, "1")
    return env
