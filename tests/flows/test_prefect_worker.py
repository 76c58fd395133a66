"""The documented service route: `prefect server start`, a process work pool, `prefect deploy`,
`prefect worker start`; two runs of the deployment triggered together batch exactly once."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from components import ledger as ledgers
from components import registry
from flows import prefect_server
from tests.conftest import write_params
from tests.flows.conftest import file_requests, processes_of

pytestmark = pytest.mark.integration
PREFECT = str(Path(sys.executable).parent / "prefect")


def test_a_process_worker_runs_the_deployment_and_two_runs_batch_once(trained, cli_env, tmp_path, monkeypatch, own_prefect_env):
    ws = trained
    monkeypatch.setenv("PREFECT_SERVER_UI_ENABLED", "false")
    write_params(ws.root, {"schedule": {"min_batch_size": 1}})
    file_requests(ws)
    with prefect_server.api(ws) as url:  # `prefect server start` on a free port
        log = run_two_deployment_runs_on_a_worker(
            ws,
            {**cli_env, "PREFECT_API_URL": url, "PREFECT_HOME": str(ws.root / ".prefect"), "PREFECT_WORKER_QUERY_SECONDS": "1"},
            tmp_path / "worker.log",
        )
    with ledgers.Ledger(ws.ledger_path) as book:
        batches = book.batches()
        statuses = [r.status for r in book.requests()]
    assert [b.status for b in batches] == ["promoted"], log[-3000:]
    assert statuses == ["done"] * 3
    assert both_runs_ended(log), log[-3000:]
    uri = registry.tracking_uri(ws.root)
    assert int(MlflowClient(uri, uri).get_model_version_by_alias("forgetflow-mae", "champion").version) == 2
    assert not processes_of(ws.root), "the server or the worker outlived the test"


def both_runs_ended(log: str) -> bool:
    """One run promoted the batch; the other found nothing left (before or after waiting for the slot)."""
    return "batch-000001: promoted" in log and log.count("nothing to do") + log.count("no batch: idle") == 1


def run_two_deployment_runs_on_a_worker(ws, env, log_path) -> str:

    def prefect(*args):
        done = subprocess.run([PREFECT, *args], cwd=ws.root, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    prefect("work-pool", "create", "forgetflow", "--type", "process")
    prefect("--no-prompt", "deploy", "--all")  # prefect.yaml, written by `forgetflow init`
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            [PREFECT, "worker", "start", "--pool", "forgetflow"],
            cwd=ws.root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        prefect("deployment", "run", "scheduled-deletion-batch/forgetflow")
        prefect("deployment", "run", "scheduled-deletion-batch/forgetflow")
        deadline = time.monotonic() + 170
        while not both_runs_ended(log_path.read_text()) and time.monotonic() < deadline:
            assert worker.poll() is None, log_path.read_text()[-3000:]
            time.sleep(1)
    finally:
        prefect_server.stop(worker)
    return log_path.read_text()
