"""The kernel fork server: runs inside a grading sandbox, imports a lab's modules once, forks a kernel per student.

This file is not imported by the grader: `grader.forkserver` passes its text to
``python -c`` inside bubblewrap, so it may use the standard library only until
it imports what the lab needs.

The server runs as root inside the sandbox's mount, network and PID namespaces
(bubblewrap builds them and keeps root's capabilities here), and runs trusted
code only. Each request forks a child that, before any student code runs:
leaves for IPC and UTS namespaces of its own, drops every capability from its
bounding set, takes the resource limits, becomes the student's user (which
clears its capabilities), sets no-new-privileges, and then becomes an ipykernel
with the lab's imports already done. A child therefore cannot write anything
the server or a later child reads: its memory is copy-on-write, the server is
root (no signals, no ptrace, no /proc/<pid>/mem), and the only folder it can
write is its own scratch folder, which the grader deletes after the job.

Protocol: one JSON object per line on stdin, one reply per line on stdout.
The first reply says which preloads failed and how many threads the server
has (forking a process with threads is unsafe: the grader then falls back to
starting each kernel on its own).

    {"op": "spawn", "connection_file": F, "cwd": D, "env": {...}, "uid": U, "rlimits": {...}}  -> {"pid": P}
    {"op": "poll", "pid": P}                 -> {"status": null | exit code (negative: killed by that signal)}
    {"op": "signal", "pid": P, "signal": S}  -> {"ok": true | false}

End of input ends the server; the grader's bubblewrap then ends its children.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import os
import resource
import signal
import sys

PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def preload(modules: list[str]) -> list[str]:
    """Import ``modules``; return the ones that failed (the kernel imports them itself, as usual)."""
    failed = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 (a module that fails here is imported, and fails, in the kernel)
            failed.append(name)
    return failed


def become_student(uid: int, rlimits: dict[str, int]) -> None:
    """Drop every privilege, for good, before any student code runs (the order matters)."""
    _check(_libc.unshare(CLONE_NEWIPC | CLONE_NEWUTS), "unshare")  # SysV memory would outlive the process
    capability = 0
    while _libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) == 0:  # EINVAL past the last capability
        capability += 1
    for name, value in rlimits.items():
        resource.setrlimit(getattr(resource, name), (value, value))
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # leaving uid 0 clears the permitted and effective capabilities
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")  # bubblewrap set it; do not rely on that
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")  # cleared by setresuid: set it now
    if os.getuid() == 0 or os.geteuid() == 0:
        raise RuntimeError("still root")


def run_kernel(request: dict) -> None:
    """In the child: isolate, then run ipykernel on the request's connection file. Never returns."""
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        become_student(int(request["uid"]), request["rlimits"])
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        # Generators seeded once, in the server, would give every student the same draws (random reseeds itself).
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()
        if "torch" in sys.modules:
            sys.modules["torch"].seed()
        if sys.path and sys.path[0] == "":  # as ipykernel_launcher does; IPython puts the kernel's cwd back
            del sys.path[0]
        sys.argv = ["ipykernel_launcher", "-f", request["connection_file"]]
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
    except BaseException:  # noqa: BLE001 (the child must never return into the server's loop)
        os._exit(70)
    os._exit(0)


def serve() -> None:
    # The server's stdout carries replies; children get /dev/null instead.
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    requests = os.fdopen(os.dup(0), "r")
    os.dup2(os.open(os.devnull, os.O_RDWR), 0)
    exited: dict[int, int] = {}

    def reap() -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            exited[pid] = os.waitstatus_to_exitcode(status)

    hello = json.loads(requests.readline())
    failed = preload(hello.get("preload", []))
    threads = len(os.listdir("/proc/self/task"))
    replies.write(json.dumps({"ready": True, "failed": failed, "threads": threads}) + "\n")
    for line in requests:
        request = json.loads(line)
        reap()
        if request["op"] == "spawn":
            replies.flush()
            pid = os.fork()
            if pid == 0:
                run_kernel(request)
            replies.write(json.dumps({"pid": pid}) + "\n")
        elif request["op"] == "poll":
            pid = int(request["pid"])
            replies.write(json.dumps({"status": exited.get(pid)}) + "\n")
        elif request["op"] == "signal":
            try:
                os.kill(int(request["pid"]), int(request["signal"]))
                replies.write(json.dumps({"ok": True}) + "\n")
            except OSError:
                replies.write(json.dumps({"ok": False}) + "\n")


if __name__ == "__main__":
    serve()
