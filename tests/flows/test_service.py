"""`forgetflow serve`: scheduled deletion batches on a real Prefect server, started and stopped as a user would."""

import contextvars
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from mlflow import MlflowClient

from components import ledger as ledgers
from components import registry
from components.data import read_manifest
from flows import service_state, workspace
from tests.conftest import write_params
from tests.flows.conftest import file_requests, processes_of

pytestmark = pytest.mark.integration
FAST_SCHEDULER = {
    "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
    "PREFECT_RUNNER_POLL_FREQUENCY": "1",
    "PREFECT_SERVER_UI_ENABLED": "false",
}


def start_serve(ws, env, log_path, *args):
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "serve", "-w", str(ws.root), *args],
            env={**env, **FAST_SCHEDULER},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for(condition, timeout, proc, log_path, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        assert proc.poll() is None, f"serve exited early ({proc.returncode}):\n{log_path.read_text()[-3000:]}"
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}:\n{log_path.read_text()[-3000:]}")


def requests_by_status(ws):
    with ledgers.Ledger(ws.ledger_path) as book:
        return [r.status for r in book.requests()]


def running_step(ws):
    with ledgers.Ledger(ws.ledger_path) as book:
        batch = book.running_batch()
    return batch.step if batch else None


def stop(proc, sig, group=False, timeout=120):
    (os.killpg if group else os.kill)(proc.pid, sig)
    try:
        return proc.wait(timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_serve_batches_only_when_the_policy_says_so_and_sigterm_lets_the_batch_finish(trained, cli_env, tmp_path):
    ws, log_path = trained, tmp_path / "serve.log"
    write_params(ws.root, {"schedule": {"min_batch_size": 1000, "max_wait_days": 7, "deadline_margin_days": 7}})
    proc = start_serve(ws, cli_env, log_path, "--interval", "3")
    try:
        wait_for(lambda: service_state.read(ws) is not None, 150, proc, log_path, "serve to start")
        status = json.loads(
            subprocess.run(
                [sys.executable, "-m", "flows.cli", "status", "-w", str(ws.root), "--json"],
                env=cli_env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        assert status["schedule"]["serving"] and status["schedule"]["interval_s"] == 3

        filed_while_serving, removed = file_requests(ws)  # 3 requests, far from their deadline, few samples
        wait_for(lambda: "nothing to do" in log_path.read_text(), 90, proc, log_path, "a run that declines")
        assert requests_by_status(ws) == ["pending"] * 3

        write_params(ws.root, {"schedule": {"min_batch_size": 1}})  # read by the next scheduled run
        wait_for(lambda: running_step(ws) is not None, 150, proc, log_path, "the batch to start")
    finally:
        code = stop(proc, signal.SIGTERM)  # as `kill PID` or a service manager stops it, mid-batch
    assert code == 0, log_path.read_text()[-3000:]
    assert requests_by_status(ws) == ["done"] * 3, log_path.read_text()[-3000:]
    uri = registry.tracking_uri(ws.root)
    champion = MlflowClient(uri, uri).get_model_version_by_alias("forgetflow-mae", "champion")
    assert int(champion.version) == 2 and champion.tags["deletion_batch_id"] == "batch-000001"
    assert not set(removed) & {s.sample_id for s in read_manifest(ws.data_dir)}
    assert service_state.read(ws) is None and not (ws.state_dir / "serve.json").exists()
    assert not processes_of(ws.root), "serve left a process behind (its Prefect server or a flow run)"


def test_ctrl_c_mid_batch_rolls_the_batch_back_and_costs_no_attempt(trained, cli_env, tmp_path):
    ws, log_path = trained, tmp_path / "serve.log"
    file_requests(ws)
    write_params(
        ws.root,
        {
            "schedule": {"min_batch_size": 1},
            "unlearn": {
                "budget": {"min_steps": 100000, "max_steps": 100000},
                "stopping": {"stop_plateau": -1e9, "stop_gap": 0.0, "max_retain_drop_pct": 1e9},
            },
        },
    )  # a batch that is still unlearning when stopped
    proc = start_serve(ws, cli_env, log_path, "--interval", "3")
    try:
        wait_for(lambda: running_step(ws) == "validate", 180, proc, log_path, "the batch to reach unlearn")
        time.sleep(2)
    finally:
        code = stop(proc, signal.SIGINT, group=True)  # Ctrl-C in the terminal: serve and the batch's process
    assert code == 0, log_path.read_text()[-3000:]
    with ledgers.Ledger(ws.ledger_path) as book:
        batch = book.batch("batch-000001")
        requests = book.requests()
    assert batch.status == "failed" and "interrupted" in batch.error, batch
    assert [(r.status, r.attempts) for r in requests] == [("pending", 0)] * 3
    uri = registry.tracking_uri(ws.root)
    client = MlflowClient(uri, uri)
    assert registry.aliases(client, "forgetflow-mae") == {"champion": 1}
    assert len(client.search_model_versions("name='forgetflow-mae'")) == 1
    assert not processes_of(ws.root), "serve left a process behind (its Prefect server or a flow run)"


def test_kill_9_of_serve_takes_its_prefect_server_down_too(trained, cli_env, tmp_path):
    ws, log_path = trained, tmp_path / "serve.log"
    proc = start_serve(ws, cli_env, log_path, "--cron", "0 3 * * *")
    try:
        wait_for(lambda: service_state.read(ws) is not None, 150, proc, log_path, "serve to start")
        # its Prefect server (PREFECT_HOME in the workspace); on a loaded machine it can show up a moment after the state file
        wait_for(lambda: processes_of(ws.root), 60, proc, log_path, "serve's Prefect server")
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # the serve alone, not its process group
        proc.wait()
    deadline = time.monotonic() + 30
    while processes_of(ws.root) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not processes_of(ws.root), "the Prefect server outlived a killed serve"
    assert service_state.read(ws) is None  # the stale state file names a dead pid: ignored


def test_the_global_concurrency_limit_lets_one_batch_through_at_a_time(tiny_workspace, prefect_api):
    """Two holders of the workspace's slot (two scheduled runs, any workers): the second waits."""
    from flows.service import one_batch_at_a_time

    ws, events = workspace.Workspace(tiny_workspace), []

    def hold(name):
        with one_batch_at_a_time(ws):
            events.append(f"{name} in")
            time.sleep(2)
            events.append(f"{name} out")

    threads = [threading.Thread(target=contextvars.copy_context().run, args=(hold, name)) for name in ("a", "b")]
    for t in threads:
        t.start()
        time.sleep(0.5)
    for t in threads:
        t.join(60)
    assert events == ["a in", "a out", "b in", "b out"]


def test_serve_refuses_bad_schedules_before_starting_anything(trained, cli_env):
    for args, message in (
        (["--cron", "61 * * * *"], "bad cron expression"),
        (["--interval", "0"], "positive"),
        (["--cron", "0 3 * * *", "--interval", "5"], "not both"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "flows.cli", "serve", "-w", str(trained.root), *args],
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2 and message in done.stderr, done.stderr
    assert not processes_of(trained.root)
