"""The Prefect API a command talks to: the team's server if PREFECT_API_URL names one, else the
server of this workspace's running `forgetflow serve`, else a `prefect server start` of our own on
127.0.0.1 that lives exactly as long as the command (`serve`, `run`, `demo`).

Schedules need a real server (the ephemeral API cannot schedule: ../shared/STACK.md), and Prefect's
own temporary API is a child we cannot stop when our process is killed; this one we can. The server
runs in its own process group with its database in the workspace's PREFECT_HOME; it is stopped on
any exit, including Ctrl-C and SIGTERM, and (Linux) dies with the serve on kill -9, so nothing
outlives the serve.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from components.errors import ForgetflowError
from flows.workspace import Workspace, set_prefect_env, tool_env

STARTUP_TIMEOUT_S = 120.0


@contextmanager
def api(ws: Workspace) -> Iterator[str]:
    """Yield the API URL to use, with PREFECT_API_URL set for this process and its children."""
    from flows import service_state

    set_prefect_env(ws)
    if os.environ.get("PREFECT_API_URL"):
        yield os.environ["PREFECT_API_URL"]
        return
    served = service_state.read(ws)
    if served is not None:
        os.environ["PREFECT_API_URL"] = served.api_url
        try:
            yield served.api_url
        finally:
            os.environ.pop("PREFECT_API_URL", None)
        return
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    log_path = ws.state_dir / "prefect-server.log"
    ws.state_dir.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=tool_env(),
            start_new_session=True,
            preexec_fn=die_with_parent if sys.platform.startswith("linux") else None,
        )
    try:
        wait_healthy(url, proc, log_path)
        os.environ["PREFECT_API_URL"] = url
        yield url
    finally:
        drain_prefect_clients()
        os.environ.pop("PREFECT_API_URL", None)
        stop(proc)


def drain_prefect_clients() -> None:
    """Send this process's queued Prefect logs and events while the server still answers: drained at
    interpreter exit instead, they retry against a stopped server and hold the exit for minutes."""
    if "prefect" not in sys.modules:
        return
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)
    EventsWorker.drain_all(timeout=10)


def die_with_parent() -> None:
    """Linux: the server gets SIGTERM if the serve dies without cleaning up (kill -9). It runs in
    its own session so that a terminal's Ctrl-C reaches the serve, which stops it last."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(
    url: str, proc: subprocess.Popen | None = None, log_path: Path | None = None, timeout: float = STARTUP_TIMEOUT_S
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-1500:] if log_path else ""
            raise ForgetflowError(f"the Prefect server exited with code {proc.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise ForgetflowError(f"no Prefect API answered at {url} within {timeout:.0f} s")


def stop(proc: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM the whole process group (uvicorn and its workers), SIGKILL after `grace` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue
