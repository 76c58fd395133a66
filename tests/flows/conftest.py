"""The real stack for flow tests: a Prefect API for the session, a trained tiny workspace."""

import contextlib
import shutil
import subprocess
from pathlib import Path

import pytest

from components import ledger as ledgers
from components.data import read_manifest
from components.locations import relocate
from flows import workspace
from flows.params import load_params
from flows.prepare import prepare
from flows.train_base import train_base, train_featurenet
from flows.workspace import git
from tests.conftest import TINY_PARAMS, write_params

# Tests of batch mechanics (transactions, lineage, purge, service), not of gate decisions: every margin so
# wide that every verdict is `forgotten`/pass. Real gate decisions: tests/flows/test_gate_decisions.py.
PASSING_GATES = {
    "sample_remembered_db": 1e9,
    "sample_overforget_db": 1e9,
    "class_psnr_slack_db": 1e9,
    "retain_max_psnr_drop_pct": 100.0,
    "retain_max_accuracy_drop": 1.0,
}
# two steps, kept whatever they cost the tiny model's retain PSNR (else the retain rule keeps step 0 and the batch waits for review)
MECHANICS_UNLEARN = {"retain_samples": 20, "budget": {"min_steps": 2, "max_steps": 2}, "stopping": {"max_retain_drop_pct": 1e9}}


@pytest.fixture(scope="session")
def prefect_api():
    from prefect.testing.utilities import prefect_test_harness

    workspace.set_offline_env()  # no telemetry from the test server
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def own_prefect_env(monkeypatch):
    """PREFECT_HOME / PREFECT_API_URL as this test's commands set them, restored afterwards: the
    product sets them in-process (`set_prefect_env`, `prefect_server.api`), and a leftover would
    send a later test's subprocesses to this test's workspace."""
    for key in ("PREFECT_HOME", "PREFECT_API_URL"):
        monkeypatch.setenv(key, "")
        monkeypatch.delenv(key)


@pytest.fixture(scope="session")
def trained_template(tmp_path_factory, idx_source) -> Path:
    """Trained once per session; each test gets its own copy (`trained`)."""
    root = tmp_path_factory.mktemp("trained") / "ws"
    workspace.init(root)
    write_params(
        root,
        {
            **TINY_PARAMS,
            "data": {**TINY_PARAMS["data"], "source": str(idx_source)},
            "unlearn": MECHANICS_UNLEARN,
            "evaluate": {"min_fid_samples": 5},
            "batch": {"max_forget_fraction": 0.5},
            "gates": PASSING_GATES,
        },
    )
    return train_workspace(root).root


@pytest.fixture
def trained(trained_template, tmp_path, prefect_api):
    """A tiny workspace with data, a feature net and a base champion, all committed to git: a copy
    of the session's template, re-rooted with `relocate` as a user would after `cp -a`."""
    root = shutil.copytree(trained_template, tmp_path / "ws", symlinks=True)
    relocate(root)
    return workspace.resolve(root)


def train_workspace(root):
    """Data, a feature net and a base champion for the workspace at `root`, all committed to git."""
    ws = workspace.resolve(root)
    params = load_params(ws.params_file)
    prepare(ws, params)
    train_featurenet(ws, params)
    train_base(ws, params)
    # what `dvc repro` records (stage outputs cached, in dvc.lock), without retraining in subprocesses
    dvc(ws.root, "commit", "--force", "train_featurenet", "train_base")
    git(ws.root, "add", "-A")
    workspace.commit(ws.root, "base")
    return ws


def file_requests(ws):
    manifest = read_manifest(ws.data_dir)
    book = ledgers.Ledger(ws.ledger_path)
    try:
        ids = [
            ledgers.file_request(book, manifest, "label", ["Trouser"]).request.id,
            ledgers.file_request(book, manifest, "subject", [manifest[0].subject_id]).request.id,
            ledgers.file_request(book, manifest, "sample", [manifest[-1].sample_id]).request.id,
        ]
        removed = {i for r in ids for i in book.request(r).sample_ids}
    finally:
        book.close()
    return ids, removed


def dvc(root, *args):
    """The dvc CLI of this interpreter's environment (CI runs pytest without the venv on PATH)."""
    return subprocess.run(["dvc", *args], cwd=root, env=workspace.tool_env(), check=True, capture_output=True, text=True)


def processes_of(root) -> list[int]:
    """Live processes of this workspace's runs: their temporary Prefect API has PREFECT_HOME=<root>/.prefect."""
    marker = f"PREFECT_HOME={Path(root) / '.prefect'}\0".encode()
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        with contextlib.suppress(OSError):
            if marker in environ.read_bytes():
                found.append(int(environ.parent.name))
    return found


def file_digests(root) -> dict[str, str]:
    """sha256 of every file under `root`: what "byte-identical" means in the copy tests."""
    import hashlib

    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(root).rglob("*")) if p.is_file()
    }
