"""Start each student's kernel by forking a sandboxed server that has already imported the lab's modules.

Most of a small lab's grading time is its imports: numpy, scikit-learn and
matplotlib cost about 1.9 s of CPU in every fresh kernel, more than the
student's code and the tests together. A `KernelForkServer` runs once per
sandbox user for a whole batch, inside the same bubblewrap sandbox a kernel
gets (no network, hidden course folder, read-only system), imports the
modules named by the lab's trusted, visible cells, and then forks one kernel
per submission. Each child drops to the sandbox user, with its limits, before
any student code runs (`grader.forkserver_main` says how, and why a child
cannot reach the server or the next child).

It is used only when the grader runs as root with users of its own, since it
is their user ids that keep children apart from the server. Anything else,
or a server that fails, falls back to one bubblewrap per kernel.
"""

from __future__ import annotations

import ast
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning.local_provisioner import LocalProvisioner
from nbformat import NotebookNode
from traitlets import Instance

from grader.cells import is_answer, is_test
from grader.sandbox import Sandbox, SandboxedKernelManager, environment_for_kernel
from grader.transform import PRELUDE

SERVER_SOURCE = (Path(__file__).parent / "forkserver_main.py").read_text(encoding="utf-8")
# What every kernel imports before it runs a cell.
KERNEL_MODULES = ["ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "IPython.core.completer"]
# ipykernel sets this for a kernel; matplotlib reads it when it is imported, which is now in the server.
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


class ForkServerError(RuntimeError):
    """The server did not start, answered nonsense, or died."""


def imported_modules(source: str) -> list[str]:
    """The absolute module names that ``source`` imports, in order; none if it does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def modules_to_preload(solution: NotebookNode) -> list[str]:
    """What the lab's released, visible cells import, then the kernel's own modules.

    Answer and test cells are left out: the modules a hidden test or the
    solution imports would show in a student's ``sys.modules``.
    """
    names: list[str] = []
    sources = [PRELUDE["record"]] + [c.source for c in solution.cells
                                     if c.cell_type == "code" and not is_answer(c) and not is_test(c)]
    for source in sources:
        names += imported_modules(source)
    return list(dict.fromkeys(names + KERNEL_MODULES))


class KernelForkServer:
    """One server for one sandbox user: started once, then asked for a kernel per job.

    ``sandbox.job_dir`` is the user's workspace: the folder under which its
    jobs keep their scratch and connection folders, the only folder the
    server's sandbox binds writable. The server's own files stay root's.
    """

    def __init__(self, sandbox: Sandbox, preload: list[str],
                 start_seconds: float = 120.0, reply_seconds: float = 30.0) -> None:
        if sandbox.uid is None:
            raise ValueError("a fork server needs a sandbox user of its own: its kernels must not be its user")
        self.workspace = sandbox.job_dir
        self.uid = sandbox.uid
        self.sandbox = sandbox
        self.preload = preload
        self.start_seconds = start_seconds
        self.reply_seconds = reply_seconds
        self.failed_preloads: list[str] = []
        self.problem: str | None = None  # why the server cannot be used, once it is known
        self._process: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self._ready = False  # the server has answered its first request: its imports are done
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the server without waiting for its imports: `usable` waits."""
        config = self.workspace / ".matplotlib"  # the font cache, built once by the server, read by every kernel
        config.mkdir(parents=True, exist_ok=True)
        self.workspace.chmod(0o711)  # kernels traverse it to their own folders; only root lists it
        env = {**environment_for_kernel(), "MPLBACKEND": INLINE_BACKEND, "MPLCONFIGDIR": str(config),
               "HOME": str(config)}
        command = self.sandbox.bubblewrap_prefix([self.workspace], Path("/"), {})
        command += [sys.executable, "-c", SERVER_SOURCE]
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, env=env)
        self._send({"preload": self.preload})

    def usable(self) -> bool:
        """Whether kernels can be forked: waits for the server's imports the first time."""
        with self._lock:
            if self.problem is None and not self._ready:
                try:
                    hello = self._receive(self.start_seconds)
                except ForkServerError:
                    return False
                self._ready = True
                self.failed_preloads = list(hello.get("failed", []))
                if hello.get("threads") != 1:  # forking a process with threads can copy a held lock
                    self.problem = f"the server has {hello.get('threads')} threads after its imports"
            if self.problem is None and (self._process is None or self._process.poll() is not None):
                self.problem = "the server has ended"
            return self.problem is None

    def spawn(self, connection_file: Path, cwd: Path, env: dict[str, str], rlimits: dict[str, int]) -> int:
        """Fork a kernel for ``connection_file``; return its pid (as the server's PID namespace numbers it)."""
        reply = self._ask({"op": "spawn", "connection_file": str(connection_file), "cwd": str(cwd), "env": env,
                           "uid": self.uid, "rlimits": rlimits})
        return int(reply["pid"])

    def poll(self, pid: int) -> int | None:
        """None while the kernel runs; its exit code once it has ended (negative: the signal that ended it)."""
        try:
            status = self._ask({"op": "poll", "pid": pid})["status"]
        except ForkServerError:
            return -signal.SIGKILL  # the server and so its kernels are gone
        return None if status is None else int(status)

    def signal(self, pid: int, signum: int) -> None:
        self._ask({"op": "signal", "pid": pid, "signal": int(signum)})

    def close(self) -> None:
        if self._process is None:
            return
        if self._process.stdin:
            self._process.stdin.close()  # end of input ends the server
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout:
            self._process.stdout.close()
        self._process = None

    def _ask(self, request: dict) -> dict:
        with self._lock:
            if self.problem is not None or not self._ready:
                raise ForkServerError(self.problem or "the server is not ready")
            self._send(request)
            return self._receive(self.reply_seconds)

    def _send(self, message: dict) -> None:
        assert self._process is not None and self._process.stdin is not None
        try:
            self._process.stdin.write(json.dumps(message).encode() + b"\n")
            self._process.stdin.flush()
        except (BrokenPipeError, ValueError) as error:
            raise self._broken(f"the server has ended: {error}") from None

    def _receive(self, seconds: float) -> dict:
        assert self._process is not None and self._process.stdout is not None
        fd = self._process.stdout.fileno()
        deadline = time.monotonic() + seconds
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise self._broken(f"the server did not answer within {seconds:.0f} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise self._broken("the server has ended")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            raise self._broken(f"the server answered {line[:200]!r}") from None

    def _broken(self, problem: str) -> ForkServerError:
        """Mark the server unusable from now on: its kernels fall back to a bubblewrap each."""
        self.problem = problem
        return ForkServerError(problem)


class ForkedKernel:
    """The part of `subprocess.Popen` that jupyter_client's provisioner uses, for a kernel the server forked."""

    stdin = stdout = stderr = None

    def __init__(self, server: KernelForkServer, pid: int, sandbox: Sandbox) -> None:
        self.server = server
        self.pid = pid
        self.sandbox = sandbox
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.server.poll(self.pid)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout or 0)
            time.sleep(0.05)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            self.server.signal(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        # From this side, by user: it needs no answer from the server, and gets the kernel's children too.
        self.sandbox.end()


class ForkedKernelProvisioner(LocalProvisioner):
    """Launches the kernel by asking the user's fork server, instead of starting a process."""

    async def launch_kernel(self, cmd: list[str], **kwargs: object) -> KernelConnectionInfo:
        km = self.parent
        assert isinstance(km, ForkedKernelManager)
        sandbox = km.sandbox
        env = {k: v for k, v in dict(kwargs.get("env") or {}).items() if k != "JPY_PARENT_PID"}
        env.update(sandbox.kernel_environment())
        env["MPLBACKEND"] = INLINE_BACKEND
        pid = km.forkserver.spawn(Path(km.connection_file), sandbox.scratch, env,
                                  sandbox.limits.rlimits(own_user=True))
        self.process = ForkedKernel(km.forkserver, pid, sandbox)
        self.pid, self.pgid = pid, None
        self.cwd = sandbox.scratch
        return self.connection_info


class ForkedKernelManager(SandboxedKernelManager):
    """A sandboxed kernel manager whose kernel is forked by a `KernelForkServer` instead of started."""

    forkserver = Instance(KernelForkServer, allow_none=False)

    def __init__(self, sandbox: Sandbox, forkserver: KernelForkServer, **kwargs: object) -> None:
        super().__init__(sandbox, forkserver=forkserver, **kwargs)

    async def _async_pre_start_kernel(self, **kw: object) -> tuple[list[str], dict[str, object]]:
        if self.provisioner is None:
            self.kernel_id = self.kernel_id or str(uuid.uuid4())
            self.provisioner = ForkedKernelProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec,
                                                       parent=self)
        return await super()._async_pre_start_kernel(**kw)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        return AsyncKernelManager.format_kernel_cmd(self, extra_arguments)  # unused: nothing is executed
