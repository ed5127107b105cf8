"""The operating-system side of the background workers: which host this is, whether a
worker process is alive, stopping its process group, and the tail of its stderr.

Split from `api.background.job_runner`, which decides what happens to a row; this module only
knows processes (POSIX process groups, `/proc` where there is one).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path
from typing import IO

#: seconds a terminated worker gets to exit before it is killed
TERMINATE_WAIT_S = 5.0
#: lines of a crashed worker's stderr kept in the row's error
STDERR_LINES = 20


def this_host() -> str:
    """This host's name, as recorded on the rows its runners claim (`runner_host`)."""
    return socket.gethostname()[:255] or "localhost"


def worker_alive(pid: int | None, module: str, row_id: str) -> bool:
    """Is process `pid` alive and `python -m MODULE ROW_ID` (not a recycled pid)?"""
    if pid is None:
        return False
    proc = Path("/proc")
    if proc.is_dir():
        try:
            cmdline = (proc / str(pid) / "cmdline").read_bytes()
        except OSError:
            return False
        # a zombie (exited, not yet reaped) has an empty command line: not alive
        return module.encode() in cmdline and row_id.encode() in cmdline
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def terminate(pid: int, process: subprocess.Popen[bytes] | None) -> None:
    """Stop a worker and its process pool: SIGTERM to its group, SIGKILL if it lingers."""
    if process is not None and process.poll() is not None:
        return
    signal_group(pid, signal.SIGTERM)
    if process is None:
        return
    try:
        process.wait(TERMINATE_WAIT_S)
    except subprocess.TimeoutExpired:
        signal_group(pid, signal.SIGKILL)
        process.wait()


def signal_group(pid: int, sig: int) -> None:
    try:
        if hasattr(os, "killpg"):
            os.killpg(pid, sig)  # the worker leads its own session, so its group id is its pid
        else:  # pragma: no cover - not POSIX
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stderr_tail(stream: IO[bytes], lines: int = STDERR_LINES, max_bytes: int = 64_000) -> str:
    """The last `lines` lines of a worker's stderr (read from its temporary file)."""
    try:
        stream.flush()
        size = stream.seek(0, os.SEEK_END)
        stream.seek(max(0, size - max_bytes))
        text = stream.read().decode("utf-8", errors="replace")
    except (OSError, ValueError):
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])
