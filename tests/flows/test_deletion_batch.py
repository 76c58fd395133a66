"""Deletion batches end to end with the real stack (Prefect, GX, MLflow, DVC, git) in tmp dirs."""

import contextlib
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from components import ledger as ledgers
from components import registry
from components.data import read_manifest
from components.ledger import provenance
from flows import batch_steps, invariants
from flows.cli import app
from flows.params import load_params
from flows.transaction import BatchBusyError, batch_lock
from flows.transaction import run as run_batch
from flows.workspace import git
from tests.conftest import write_params
from tests.flows.conftest import dvc, file_digests, file_requests, processes_of

pytestmark = pytest.mark.integration
MODEL = "forgetflow-mae"


def snapshot(ws):
    """Everything a failed batch must leave untouched."""
    client = MlflowClient(registry.tracking_uri(ws.root), registry.tracking_uri(ws.root))
    files = {
        str(p.relative_to(ws.data_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(ws.data_dir.rglob("*"))
        if p.is_file()
    }
    experiment = client.get_experiment_by_name("forgetflow").experiment_id
    book = ledgers.Ledger(ws.ledger_path)
    ledger_state = {
        "tombstones": book.tombstones(),
        "artifacts": sorted(provenance.artifacts(book)),
        "aliases": provenance.aliases(book),
        "requests": [r.status for r in book.requests()],
    }
    book.close()
    return {
        "aliases": registry.aliases(client, MODEL),
        "versions": len(client.search_model_versions(f"name='{MODEL}'")),
        "runs": len(client.search_runs([experiment])),
        "data": files,
        "data.dvc": ws.data_dvc.read_text(),
        "head": git(ws.root, "rev-parse", "HEAD"),
        "tags": git(ws.root, "tag"),
        "forgotten": ws.forgotten_file.exists(),
        "dvc_cache": sorted(str(p.relative_to(ws.root)) for p in (ws.root / ".dvc" / "cache").rglob("*") if p.is_file()),
        "unlearned": sorted(p.name for p in (ws.root / "models" / "unlearned").glob("*"))
        if (ws.root / "models" / "unlearned").is_dir()
        else [],
        "ledger": ledger_state,
    }


def dvc_status(ws):
    return dvc(ws.root, "status", "train_featurenet", "train_base", "data.dvc", "models/unlearned.dvc").stdout.strip()


def forgotten_files(ws, removed):
    """The bytes of forgotten images, rebuilt from the source (data/ no longer has them)."""
    from components.data import load_source, materialise

    params = load_params(ws.params_file)
    out = ws.root.parent / "rebuilt"
    materialise(load_source(Path(params.data.source)), params.data, out)
    return [p.read_bytes() for p in out.rglob("*.png") if p.stem in removed]


def kept_bytes(ws):
    return {p.read_bytes() for p in ws.data_dir.rglob("*.png")}


def test_failed_gates_leave_a_challenger_and_a_person_can_promote_it(trained):
    write_params(trained.root, {"gates": {"retain_max_accuracy_drop": -1.0}})
    ws, params = trained, load_params(trained.params_file)
    file_requests(ws)
    before = snapshot(ws)

    outcome = run_batch(ws, params)

    assert outcome.status == "needs_review"
    assert f"forgetflow reject {outcome.batch_id}" in outcome.report.read_text()  # the report says what a person can do
    after = snapshot(ws)
    assert after["aliases"] == {"champion": 1, "challenger": 2}
    changed = ("aliases", "versions", "runs", "ledger")  # a challenger is registered; requests wait for review
    assert {k: v for k, v in after.items() if k not in changed} == {k: v for k, v in before.items() if k not in changed}
    assert invariants.check(ws, params) == []  # requests wait in a needs_review batch: consistent, not lost

    from components.errors import RegistryError
    from flows.registry_ops import promote_version

    with pytest.raises(RegistryError, match="failed its gates"):
        promote_version(ws, params, "challenger", force=False, reason="")
    assert promote_version(ws, params, "challenger", force=True, reason="reviewed the grids") == (2, 1)
    book = ledgers.Ledger(ws.ledger_path)
    assert {r.status for r in book.requests()} == {"done"} and book.batch(outcome.batch_id).status == "promoted"
    book.close()
    assert git(ws.root, "tag") == "forget-batch-000001"
    assert invariants.check(ws, params) == []


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
    after = snapshot(ws)
    assert after["ledger"]["requests"] == ["pending"] * 3  # released, with the error (checked below)
    assert {k: v for k, v in after.items() if k != "ledger"} == {k: v for k, v in before.items() if k != "ledger"}
    assert {k: v for k, v in after["ledger"].items() if k != "requests"} == {
        k: v for k, v in before["ledger"].items() if k != "requests"
    }
    book = ledgers.Ledger(ws.ledger_path)
    assert all(r.status == "pending" and "injected" in r.error for r in book.requests())
    book.close()
    assert invariants.check(ws, params) == []
    if step == "commit_data":  # the same requests then go through cleanly
        monkeypatch.setattr(batch_steps, step, real)
        assert run_batch(ws, params).status == "promoted"
        assert invariants.check(ws, params) == []


def corrupt_forget_file(ws):  # the last sample is in the forget set (file_requests): re-hashed by validate
    (ws.data_dir / read_manifest(ws.data_dir)[-1].relpath).write_bytes(b"not the image the manifest promised")


def add_stray_file(ws):
    (ws.data_dir / "stray.png").write_bytes(b"a file DVC never recorded")


@pytest.mark.parametrize("damage,caught_by", [(corrupt_forget_file, "sha256_ok"), (add_stray_file, "data_matches_dvc")])
def test_invalid_data_stops_the_batch_at_validation(trained, damage, caught_by):
    ws, params = trained, load_params(trained.params_file)
    file_requests(ws)
    damage(ws)

    outcome = run_batch(ws, params)

    assert outcome.status == "failed" and "DataValidationError" in outcome.error and caught_by in outcome.error
    uri = registry.tracking_uri(ws.root)
    assert len(MlflowClient(uri, uri).search_model_versions(f"name='{MODEL}'")) == 1
    assert "FAILED data/" in CliRunner().invoke(app, ["audit", "-w", str(ws.root)]).output


def test_a_file_changed_outside_the_batch_is_never_committed(trained):
    """Validation reads only what the batch touches; the data commit checks the new version is the
    old one minus the forgotten files, so an edit elsewhere in data/ fails the batch and is rolled back."""
    from PIL import Image

    ws, params = trained, load_params(trained.params_file)
    file_requests(ws)
    before = snapshot(ws)
    other = next(s for s in read_manifest(ws.data_dir) if s.split == "test")
    Image.new("L", (28, 28), 7).save(ws.data_dir / other.relpath)  # a valid image, other bytes

    outcome = run_batch(ws, params)

    assert outcome.status == "failed" and "changed outside this batch" in outcome.error and other.relpath in outcome.error
    after = snapshot(ws)
    assert {k: v for k, v in after["data"].items() if k != other.relpath} == {
        k: v for k, v in before["data"].items() if k != other.relpath
    }
    assert (after["data.dvc"], after["head"], after["aliases"], after["versions"]) == (
        before["data.dvc"],
        before["head"],
        before["aliases"],
        before["versions"],
    )


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


def test_kill_9_mid_unlearn_is_resumed_without_a_second_version(trained, trained_template, cli_env):
    """In a relocated copy of the session's workspace (`trained`): the original stays byte-identical."""
    ws = trained
    original = file_digests(trained_template)
    file_requests(ws)
    write_params(
        ws.root,
        {
            "unlearn": {
                "budget": {"min_steps": 100000, "max_steps": 100000},
                "stopping": {"stop_plateau": -1e9, "stop_gap": 0.0, "max_retain_drop_pct": 1e9},
            }
        },
    )  # killed inside unlearn
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "run", "-w", str(ws.root)],
        env=cli_env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
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
    os.kill(proc.pid, signal.SIGKILL)  # the run alone: its Prefect server must not outlive it
    proc.wait()
    deadline = time.time() + 30
    while processes_of(ws.root) and time.time() < deadline:
        time.sleep(0.5)
    assert not processes_of(ws.root), "the run's Prefect server outlived a kill -9 of the run"

    write_params(ws.root, {"unlearn": {"budget": {"max_steps": 2}}})
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", "-w", str(ws.root), "--json"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    outcome = json.loads(done.stdout)  # stdout is the JSON alone, purge and MLflow chatter go to stderr
    assert outcome["batch_id"] == "batch-000001" and outcome["status"] == "promoted"
    uri = registry.tracking_uri(ws.root)
    assert len(MlflowClient(uri, uri).search_model_versions(f"name='{MODEL}'")) == 2
    assert not processes_of(ws.root), "a process started for this workspace outlived its run"
    assert invariants.check(ws, load_params(ws.params_file)) == []
    assert file_digests(trained_template) == original


def test_sigkill_after_the_data_commit_finishes_forward_on_the_next_run(trained, cli_env):
    ws, params = trained, load_params(trained.params_file)
    _, removed = file_requests(ws)
    code = (
        "import os, signal, sys\nimport flows.batch_steps as steps\nreal = steps.commit_data\n"
        "def commit_then_die(*a, **k):\n    real(*a, **k)\n    os.kill(os.getpid(), signal.SIGKILL)\n"
        "steps.commit_data = commit_then_die\nfrom flows.cli import app\napp(['-w', sys.argv[1], 'run'])\n"
    )
    killed = subprocess.Popen(
        [sys.executable, "-c", code, str(ws.root)],
        env=cli_env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert killed.wait(timeout=300) == -signal.SIGKILL
    finally:  # the killed run's own children (its temporary Prefect API) die with it
        with contextlib.suppress(ProcessLookupError):
            os.killpg(killed.pid, signal.SIGKILL)
    book = ledgers.Ledger(ws.ledger_path)
    assert book.running_batch().step == "commit_data" and not book.tombstones()  # data committed, ledger not yet
    book.close()
    assert git(ws.root, "tag") == "forget-batch-000001"

    outcome = run_batch(ws, params)

    assert (outcome.batch_id, outcome.status, outcome.model_version) == ("batch-000001", "promoted", 2)
    uri = registry.tracking_uri(ws.root)
    client = MlflowClient(uri, uri)
    assert len(client.search_model_versions(f"name='{MODEL}'")) == 2 and registry.aliases(client, MODEL) == {"champion": 2}
    book = ledgers.Ledger(ws.ledger_path)
    assert set(book.tombstones()) == removed and {r.status for r in book.requests()} == {"done"}
    book.close()
    assert not removed & {s.sample_id for s in read_manifest(ws.data_dir)}
    assert client.get_model_version(MODEL, "1").tags["purged_by"] == "batch-000001"
    assert sorted(p.suffix for p in (ws.root / "models" / "unlearned").iterdir()) == [".json", ".pt"]
    assert not git(ws.root, "status", "--porcelain")
    assert invariants.check(ws, params) == []


def test_a_rejected_review_releases_its_requests_and_drops_the_challenger(trained):
    write_params(trained.root, {"gates": {"retain_max_accuracy_drop": -1.0}})
    ws, params = trained, load_params(trained.params_file)
    file_requests(ws)
    assert run_batch(ws, params).status == "needs_review"

    from flows.transaction import reject

    batch = reject(ws, params, "batch-000001", "grids look wrong")

    assert batch.status == "rejected"
    uri = registry.tracking_uri(ws.root)
    client = MlflowClient(uri, uri)
    assert registry.aliases(client, MODEL) == {"champion": 1}
    assert client.get_model_version(MODEL, "2").tags["rejected"] == "grids look wrong"
    book = ledgers.Ledger(ws.ledger_path)
    assert {r.status for r in book.requests()} == {"pending"} and not book.tombstones()
    book.close()
    assert not (ws.root / "models" / "unlearned").exists()  # the checkpoint never left the batch's scratch


def test_the_compliance_commands_answer_from_the_ledger(trained, tmp_path):
    from typer.testing import CliRunner

    from flows.cli import app

    ws, params = trained, load_params(trained.params_file)
    _, removed = file_requests(ws)
    kept = next(s.sample_id for s in read_manifest(ws.data_dir) if s.split == "train" and s.sample_id not in removed)
    remote = tmp_path / "remote"  # a local-directory DVC remote that already holds the data to forget
    dvc(ws.root, "remote", "add", "-d", "store", str(remote))
    dvc(ws.root, "push")
    pushed = {p.read_bytes() for p in remote.rglob("*") if p.is_file()}
    assert any(png in pushed for png in forgotten_files(ws, removed))
    cli = CliRunner()
    before = cli.invoke(app, ["-w", str(ws.root), "contains", kept, "--json"])
    assert before.exit_code == 1 and "forgetflow-mae/v1@champion" in before.output  # the base holds it, and serves

    assert run_batch(ws, params).status == "promoted"
    in_remote = {p.read_bytes() for p in remote.rglob("*") if p.is_file()}
    assert not [png for png in forgotten_files(ws, removed) if png in in_remote and png not in kept_bytes(ws)]

    gone = cli.invoke(app, ["-w", str(ws.root), "contains", "--label", "Trouser", "--json"])
    answer = json.loads(gone.output)
    assert gone.exit_code == 0 and answer["forgotten_by"] == ["batch-000001"] and not answer["serving_contains"]
    rows = {r["artifact"]: r for r in answer["artifacts"]}
    assert rows["forgetflow-mae/v1"]["purged_by"] == "batch-000001" and rows["forgetflow-mae/v1"]["trained_on"] > 0
    assert rows["forgetflow-mae/v2"]["unlearned_by"] == {"batch-000001": rows["forgetflow-mae/v1"]["trained_on"]}
    assert cli.invoke(app, ["-w", str(ws.root), "contains", kept]).exit_code == 1  # v2 still holds what it kept
    assert cli.invoke(app, ["-w", str(ws.root), "contains", "../etc/passwd"]).exit_code == 2
    assert cli.invoke(app, ["-w", str(ws.root), "contains", "fm-train-999999"]).exit_code == 2
    again = cli.invoke(app, ["-w", str(ws.root), "request", "--label", "Trouser"])
    assert again.exit_code == 0 and "already forgotten by batch-000001" in again.output

    trail = cli.invoke(app, ["-w", str(ws.root), "events", "--request", "req-000001", "--json"])
    assert {"filed", "processing", "done", "promoted", "purged"} <= {e["event"] for e in json.loads(trail.output)}

    cert = tmp_path / "cert.json"
    assert cli.invoke(app, ["-w", str(ws.root), "certificate", "batch-000001", "--out", str(cert)]).exit_code == 0
    body = json.loads(cert.read_text())
    assert body["forgotten"]["n_samples"] > 0 and body["git"]["tag"] == "forget-batch-000001" and body["purge"]
    with ledgers.Ledger(ws.ledger_path) as book:
        assert [r["due_at"] for r in body["requests"]] == [book.request(r["id"]).due_at for r in body["requests"]]
    assert f"due {body['requests'][0]['due_at'][:10]}" in (ws.reports_dir / "batch-000001.md").read_text()
    assert cli.invoke(app, ["-w", str(ws.root), "certificate", "--verify", str(cert)]).exit_code == 0
    page = tmp_path / "cert.html"
    assert cli.invoke(app, ["-w", str(ws.root), "certificate", "batch-000001", "--out", str(page)]).exit_code == 0
    assert "Deletion certificate: batch-000001" in page.read_text() and "<img" not in page.read_text()
    evaluation = ws.batch_dir("batch-000001") / "evaluation.json"
    evaluation.write_text(evaluation.read_text().replace("true", "false"))
    tampered = cli.invoke(app, ["-w", str(ws.root), "certificate", "--verify", str(cert)])
    assert tampered.exit_code == 1 and "evaluation.json" in tampered.output
    assert body["ledger_head"].startswith(f"{json.loads(trail.output)[-1]['seq']}:")  # the request's newest event is its batch's
    db = sqlite3.connect(ws.ledger_path)  # the history rewritten under the certificate: the cited head no longer holds
    db.execute("UPDATE events SET detail = '{}' WHERE event = 'done'")
    db.commit()
    db.close()
    forged = cli.invoke(app, ["-w", str(ws.root), "certificate", "--verify", str(cert)])
    assert forged.exit_code == 1 and "ledger: the ledger's chain is broken" in forged.output

    assert "nothing to remove" in cli.invoke(app, ["-w", str(ws.root), "purge"]).output
    assert cli.invoke(app, ["-w", str(ws.root), "purge", "batch-000009"]).exit_code == 2
