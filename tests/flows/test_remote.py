"""A DVC remote set by `forgetflow init --remote`: promoted batches push, a clone pulls the current data."""

import subprocess

import pytest
from typer.testing import CliRunner

from components import ledger as ledgers
from flows.cli import app
from flows.params import load_params
from flows.transaction import run as run_batch
from flows.workspace import git
from tests.flows.conftest import dvc, file_requests

pytestmark = pytest.mark.integration


def files(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_promoted_batch_pushes_and_a_fresh_clone_pulls_the_current_data(trained, tmp_path):
    ws, store = trained, tmp_path / "dvc-remote"
    result = CliRunner().invoke(app, ["init", str(ws.root), "--remote", str(store)])
    assert result.exit_code == 0, result.output
    assert git(ws.root, "status", "--porcelain", "--", ".dvc/config") == ""  # committed, so clones get it
    _, removed = file_requests(ws)

    assert run_batch(ws, load_params(ws.params_file)).status == "promoted"
    with ledgers.Ledger(ws.ledger_path) as book:
        pushed = [e for e in book.events("batch-000001") if e["event"] == "pushed"]
    assert pushed and pushed[0]["detail"]["objects"] > 0 and pushed[0]["detail"]["remote"] == str(store)

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ws.root), str(clone)], check=True)
    dvc(clone, "pull", "data.dvc", "models/unlearned.dvc", "train_featurenet", "train_base")
    assert files(clone / "data") == files(ws.data_dir)
    assert not any(sample in name for name in files(clone / "data") for sample in removed)
    assert files(clone / "models" / "unlearned") == files(ws.models_dir / "unlearned") != {}  # the champion's weights
    assert (clone / "models" / "featurenet.pt").read_bytes() == (ws.models_dir / "featurenet.pt").read_bytes()


def test_init_refuses_a_malformed_remote_and_changes_nothing(tiny_workspace):
    before = (tiny_workspace / ".dvc" / "config").read_text()
    result = CliRunner().invoke(app, ["init", str(tiny_workspace), "--remote", " "])
    assert result.exit_code == 2 and "bad remote" in result.output
    assert (tiny_workspace / ".dvc" / "config").read_text() == before
