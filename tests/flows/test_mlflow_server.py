"""A team setup: forgetflow against a real `mlflow server` over HTTP, and the champion served by
`mlflow models serve` answering a REST request. 127.0.0.1 only, free ports, everything stopped."""

import contextlib
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient

from flows import workspace
from flows.params import load_params
from flows.prefect_server import free_port, stop, wait_healthy
from flows.prepare import prepare
from flows.train_base import train_base, train_featurenet
from flows.transaction import run as run_batch
from tests.conftest import write_params
from tests.flows.conftest import MECHANICS_UNLEARN, PASSING_GATES, file_requests

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent


@contextlib.contextmanager
def started(args, log_path, env, health_url):
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        wait_healthy(health_url, proc, log_path, timeout=150)
        yield proc
    finally:
        stop(proc)


def test_a_batch_against_an_mlflow_server_and_the_champion_served_over_rest(
    tiny_workspace, prefect_api, cli_env, tmp_path, monkeypatch
):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = [
        str(BIN / "mlflow"),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        f"sqlite:///{tmp_path / 'mlflow.db'}",
        "--artifacts-destination",
        str(tmp_path / "artifacts"),
    ]
    with started(server, tmp_path / "mlflow.log", cli_env, url):
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        write_params(
            tiny_workspace,
            {
                "unlearn": MECHANICS_UNLEARN,
                "evaluate": {"min_fid_samples": 5},
                "batch": {"max_forget_fraction": 0.5},
                "gates": PASSING_GATES,
            },
        )
        ws = workspace.resolve(tiny_workspace)
        params = load_params(ws.params_file)
        prepare(ws, params)
        train_featurenet(ws, params)
        train_base(ws, params)
        _, removed = file_requests(ws)
        outcome = run_batch(ws, params)
        assert outcome.status == "promoted", outcome.error

        client = MlflowClient(url, url)
        champion = client.get_model_version_by_alias("forgetflow-mae", "champion")
        assert int(champion.version) == 2 and champion.tags["parent_version"] == "1"
        assert champion.tags["deletion_batch_id"] == outcome.batch_id and champion.tags["data_dvc_md5_after"] == ws.data_version()
        assert not (ws.root / "mlruns" / "mlflow.db").exists()  # nothing went to the local store
        base = client.get_model_version("forgetflow-mae", "1")  # saw the forgotten data: purged after promotion
        assert base.tags["purged_by"] == outcome.batch_id and client.get_run(base.run_id).info.lifecycle_stage == "deleted"
        # the server still holds the files until its own `mlflow gc` runs: no command may call them gone
        assert base.tags["purge_pending"].startswith("mlflow gc")
        from flows.compliance import certificate
        from flows.compliance import contains as containment

        rows = {r["artifact"]: r for r in containment.contains(ws, params, "sample", sorted(removed)[:1])["artifacts"]}
        assert rows["forgetflow-mae/v1"]["deletion_pending"].startswith("mlflow gc")
        cert = certificate.build(ws, params, outcome.batch_id)
        assert list(cert["deletion_pending_on_server"]) == ["forgetflow-mae/v1"]
        assert "deletion pending on server" in certificate.render_html(cert)

        serve_port = free_port()
        serve = [
            str(BIN / "mlflow"),
            "models",
            "serve",
            "-m",
            "models:/forgetflow-mae@champion",
            "--env-manager",
            "local",
            "--host",
            "127.0.0.1",
            "-p",
            str(serve_port),
        ]
        with started(serve, tmp_path / "serve.log", {**cli_env, "MLFLOW_TRACKING_URI": url}, f"http://127.0.0.1:{serve_port}"):
            image = np.random.default_rng(0).random((1, 1, 32, 32), dtype=np.float32)
            body = json.dumps({"inputs": image.tolist(), "params": {"mask": "centre", "extent": 16}}).encode()
            request = urllib.request.Request(
                f"http://127.0.0.1:{serve_port}/invocations", body, {"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=60) as response:
                out = np.asarray(json.loads(response.read())["predictions"], dtype=np.float32)
    assert out.shape == (1, 1, 32, 32) and np.isfinite(out).all()
    hole = np.zeros((32, 32), bool)
    hole[8:24, 8:24] = True
    np.testing.assert_allclose(out[0, 0][~hole], image[0, 0][~hole], atol=1e-5)  # visible pixels kept
    assert not np.allclose(out[0, 0][hole], image[0, 0][hole])  # the hole is filled by the model


def test_the_tracking_server_going_away_mid_batch_leaves_a_batch_the_next_run_recovers(
    tiny_workspace, prefect_api, cli_env, tmp_path, monkeypatch
):
    """The server dies just before register. Neither register nor the roll-back can reach it, so the
    batch stays `running` (nothing half-written is left as if done); with the server back, the next
    run resumes it to a promoted batch and every invariant holds."""
    from flows import batch_steps, invariants

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # fail in seconds, not after minutes of back-off
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    store = [f"sqlite:///{tmp_path / 'mlflow.db'}", "--artifacts-destination", str(tmp_path / "artifacts")]

    def server(port):
        return [
            str(BIN / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            *store,
        ]

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    write_params(
        tiny_workspace,
        {
            "unlearn": MECHANICS_UNLEARN,
            "evaluate": {"min_fid_samples": 5},
            "batch": {"max_forget_fraction": 0.5},
            "gates": PASSING_GATES,
        },
    )
    ws = workspace.resolve(tiny_workspace)
    params = load_params(ws.params_file)
    real = batch_steps.register
    with started(server(port), tmp_path / "mlflow.log", cli_env, url) as proc:
        prepare(ws, params)
        train_featurenet(ws, params)
        train_base(ws, params)
        file_requests(ws)

        def server_gone_then_register(*args, **kwargs):
            stop(proc)
            return real(*args, **kwargs)

        monkeypatch.setattr(batch_steps, "register", server_gone_then_register)
        with pytest.raises(Exception, match="(?i)connect|refused|max retries"):
            run_batch(ws, params)
    monkeypatch.setattr(batch_steps, "register", real)
    from components import ledger as ledgers

    with ledgers.Ledger(ws.ledger_path) as book:
        assert book.running_batch().id == "batch-000001"

    with started(server(port), tmp_path / "mlflow-again.log", cli_env, url):
        outcome = run_batch(ws, params)
        assert (outcome.batch_id, outcome.status) == ("batch-000001", "promoted"), outcome.error
        assert invariants.check(ws, params) == []
