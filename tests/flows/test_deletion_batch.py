"""Deletion batches end to end with the real stack (Prefect, GX, MLflow, DVC, git) in tmp dirs."""

import hashlib
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from mlflow import MlflowClient

from components import ledger as ledgers
from components import registry
from components.data import read_manifest
from flows import batch_steps, workspace
from flows.deletion_batch import BatchBusyError, batch_lock, run_batch
from flows.params import load_params
from flows.train_base import train_base, train_featurenet
from flows.prepare import prepare
from flows.workspace import git
from tests.conftest import write_params

pytestmark = pytest.mark.integration
MODEL = "forgetflow-mae"
PASSING_GATES = {"forget_min_drop": -1.0, "retain_max_drop_pct": 100.0}  # mechanics, not quality, under test here


@pytest.fixture(scope="session")
def prefect_api():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def trained(tiny_workspace, prefect_api):
    """A tiny workspace with data, a feature net and a base champion, all committed to git."""
    write_params(tiny_workspace, {"unlearn": {"epochs": 1, "retain_samples": 20}, "evaluate": {"min_fid_samples": 5},
                                  "batch": {"max_forget_fraction": 0.5}, "gates": PASSING_GATES})
    ws = workspace.resolve(tiny_workspace)
    params = load_params(ws.params_file)
    prepare(ws, params)
    train_featurenet(ws, params)
    train_base(ws, params)
    git(ws.root, "add", "-A")
    workspace.commit(ws.root, "base")
    return ws


def file_requests(ws):
    manifest = read_manifest(ws.data_dir)
    book = ledgers.Ledger(ws.ledger_path)
    try:
        ids = [ledgers.file_request(book, manifest, "label", ["Trouser"]).request.id,
               ledgers.file_request(book, manifest, "subject", [manifest[0].subject_id]).request.id,
               ledgers.file_request(book, manifest, "sample", [manifest[-1].sample_id]).request.id]
        removed = {i for r in ids for i in book.request(r).sample_ids}
    finally:
        book.close()
    return ids, removed


def snapshot(ws):
    """Everything a failed batch must leave untouched."""
    client = MlflowClient(registry.tracking_uri(ws.root), registry.tracking_uri(ws.root))
    files = {str(p.relative_to(ws.data_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(ws.data_dir.rglob("*")) if p.is_file()}
    return {"aliases": registry.aliases(client, MODEL), "versions": len(client.search_model_versions(f"name='{MODEL}'")),
            "data": files, "data.dvc": ws.data_dvc.read_text(), "head": git(ws.root, "rev-parse", "HEAD"),
            "tags": git(ws.root, "tag"), "forgotten": ws.forgotten_file.exists()}


def test_a_batch_promotes_the_unlearned_model_and_removes_the_data(trained):
    ws, params = trained, load_params(trained.params_file)
    request_ids, removed = file_requests(ws)
    md5_before = ws.data_version()

    outcome = run_batch(ws, params)

    assert outcome.status == "promoted" and outcome.model_version == 2
    uri = registry.tracking_uri(ws.root)
    client = MlflowClient(uri, uri)
    v2 = client.get_model_version(MODEL, "2")
    assert registry.aliases(client, MODEL) == {"champion": 2, "previous-champion": 1}
    assert v2.tags["parent_version"] == "1" and v2.tags["deletion_batch_id"] == outcome.batch_id
    assert v2.tags["request_ids"] == ",".join(request_ids) and v2.tags["n_forget"] == str(len(removed))
    assert v2.tags["data_dvc_md5_before"] == md5_before and v2.tags["data_dvc_md5_after"] == ws.data_version() != md5_before
    assert v2.tags["method"] == "encoder-noise" and v2.tags["gates_passed"] == "true" and len(v2.tags["forget_set_sha256"]) == 64
    assert not removed & {s.sample_id for s in read_manifest(ws.data_dir)}
    assert not any(ws.data_dir.rglob(f"{next(iter(removed))}.png"))
    assert git(ws.root, "tag") == "forget-batch-000001" and not git(ws.root, "status", "--porcelain")
    book = ledgers.Ledger(ws.ledger_path)
    assert {(r.status, r.model_version) for r in book.requests()} == {("done", 2)} and set(book.tombstones()) == removed
    book.close()
    assert "promoted" in outcome.report.read_text() and "| unlearn |" in outcome.report.read_text()
    from dvc.repo import Repo

    with Repo(str(ws.root)) as repo:
        assert not repo.status(targets=[str(ws.data_dvc)])

    assert run_batch(ws, params).status == "idle"  # rerun: nothing pending, no new version
    assert len(client.search_model_versions(f"name='{MODEL}'")) == 2
    assert prepare(ws, params, force=True).data_md5 == ws.data_version()  # forgotten samples stay forgotten
    assert [e.version for e in registry.trace(client, MODEL, "champion")] == [2, 1]

    from flows.registry_ops import rollback

    assert rollback(ws, params, "outputs looked wrong") == (2, 1)
    assert registry.aliases(client, MODEL) == {"champion": 1}  # v1 has no parent: no previous-champion left
    assert "outputs looked wrong" in client.get_model_version(MODEL, "2").tags["rolled_back"]
    book = ledgers.Ledger(ws.ledger_path)
    assert book.batch(outcome.batch_id).status == "rolled_back" and set(book.tombstones()) == removed
    book.close()


def test_failed_gates_leave_a_challenger_and_a_person_can_promote_it(trained):
    write_params(trained.root, {"gates": {"forget_min_drop": 10.0}})
    ws, params = trained, load_params(trained.params_file)
    file_requests(ws)
    before = snapshot(ws)

    outcome = run_batch(ws, params)

    assert outcome.status == "needs_review"
    after = snapshot(ws)
    assert after["aliases"] == {"champion": 1, "challenger": 2}
    assert {k: v for k, v in after.items() if k not in ("aliases", "versions")} == {
        k: v for k, v in before.items() if k not in ("aliases", "versions")}

    from flows.registry_ops import promote_version
    from components.errors import RegistryError

    with pytest.raises(RegistryError, match="failed its gates"):
        promote_version(ws, params, "challenger", force=False, reason="")
    assert promote_version(ws, params, "challenger", force=True, reason="reviewed the grids") == (2, 1)
    book = ledgers.Ledger(ws.ledger_path)
    assert {r.status for r in book.requests()} == {"done"} and book.batch(outcome.batch_id).status == "promoted"
    book.close()
    assert git(ws.root, "tag") == "forget-batch-000001"


@pytest.mark.parametrize("step", ["extract", "validate", "unlearn", "evaluate", "register", "promote", "commit_data"])
def test_a_fault_in_any_step_leaves_everything_as_before(trained, monkeypatch, step):
    ws, params = trained, load_params(trained.params_file)
    request_ids, _ = file_requests(ws)
    before = snapshot(ws)
    real = getattr(batch_steps, step)

    def real_then_fail(*args, **kwargs):
        real(*args, **kwargs)  # the step's side effects happen, then it fails
        raise RuntimeError(f"injected fault after {step}")

    monkeypatch.setattr(batch_steps, step, real_then_fail)
    outcome = run_batch(ws, params)

    assert outcome.status == "failed" and f"injected fault after {step}" in outcome.error
    assert snapshot(ws) == before
    book = ledgers.Ledger(ws.ledger_path)
    assert all(r.status == "pending" and "injected" in r.error for r in book.requests())
    book.close()
    if step == "commit_data":  # the same requests then go through cleanly
        monkeypatch.setattr(batch_steps, step, real)
        assert run_batch(ws, params).status == "promoted"


def test_invalid_data_stops_the_batch_at_validation(trained):
    ws, params = trained, load_params(trained.params_file)
    file_requests(ws)
    victim = read_manifest(ws.data_dir)[-2]
    (ws.data_dir / victim.relpath).write_bytes(b"not the image the manifest promised")

    outcome = run_batch(ws, params)

    assert outcome.status == "failed" and "DataValidationError" in outcome.error and "sha256_ok" in outcome.error
    uri = registry.tracking_uri(ws.root)
    assert len(MlflowClient(uri, uri).search_model_versions(f"name='{MODEL}'")) == 1


def test_a_second_batch_in_the_same_workspace_is_refused(trained):
    with batch_lock(trained):
        with pytest.raises(BatchBusyError, match="another deletion batch is running"):
            run_batch(trained, load_params(trained.params_file))


def test_register_reuses_the_version_of_its_batch(trained):
    ws, params = trained, load_params(trained.params_file)
    file_requests(ws)
    assert run_batch(ws, params).status == "promoted"
    ckpt = next((ws.root / "models" / "unlearned").glob("*.pt"))
    evaluation = ws.batch_dir("batch-000001") / "evaluation.json"
    assert batch_steps.register(ws, params, "batch-000001", ckpt, evaluation) == 2


def test_kill_9_mid_unlearn_is_resumed_without_a_second_version(trained, cli_env):
    ws = trained
    file_requests(ws)
    write_params(ws.root, {"unlearn": {"epochs": 500}})  # long enough to be killed inside unlearn
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "run", "-w", str(ws.root)], env=cli_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        book = ledgers.Ledger(ws.ledger_path)
        step = book.running_batch().step if book.running_batch() else None
        book.close()
        if step == "validate":  # validate finished: unlearn is running
            time.sleep(2)
            break
        time.sleep(0.5)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    write_params(ws.root, {"unlearn": {"epochs": 1}})
    done = subprocess.run([sys.executable, "-m", "flows.cli", "run", "-w", str(ws.root), "--json"], env=cli_env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"batch_id": "batch-000001"' in done.stdout and '"status": "promoted"' in done.stdout
    uri = registry.tracking_uri(ws.root)
    assert len(MlflowClient(uri, uri).search_model_versions(f"name='{MODEL}'")) == 2
