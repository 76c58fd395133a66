import os
from pathlib import Path

import pytest
import yaml

from components.data import sources
from flows import workspace
from flows.params import load_params
from flows.prepare import prepare
from tests.conftest import write_params

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(
    not sources.DEBIAN_FASHION_MNIST.is_dir() and os.environ.get("CI") != "true",
    reason="dataset-fashion-mnist not installed (CI installs it, so there this test runs)",
)
def test_a_fresh_prepare_reproduces_the_committed_data_dvc_md5(tmp_path):
    ws = workspace.init(tmp_path / "ws")
    result = prepare(ws, load_params(ws.params_file))
    committed = yaml.safe_load((ROOT / "data.dvc").read_text())
    assert result.data_md5 == committed["outs"][0]["md5"] and result.n_samples == 6000
    assert yaml.safe_load(ws.data_dvc.read_text()) == committed


def test_prepare_skips_when_up_to_date_and_rebuilds_when_params_or_files_change(tiny_workspace):
    ws = workspace.resolve(tiny_workspace)
    first = prepare(ws, load_params(ws.params_file))
    assert not first.skipped and prepare(ws, load_params(ws.params_file)).skipped

    write_params(tiny_workspace, {"data": {"train_per_class": 2}})
    smaller = prepare(ws, load_params(ws.params_file))
    assert not smaller.skipped and smaller.n_samples == 40 and smaller.data_md5 != first.data_md5

    next(ws.data_dir.rglob("*.png")).write_bytes(b"edited by hand")
    repaired = prepare(ws, load_params(ws.params_file))
    assert not repaired.skipped and repaired.data_md5 == smaller.data_md5


def test_workspace_init_is_idempotent_and_keeps_generated_state_out_of_git(tmp_path):
    root = tmp_path / "ws"
    workspace.init(root)
    workspace.init(root)
    ignored = (root / ".gitignore").read_text().split()
    assert {"/data", "/.forgetflow", "/mlruns/mlflow.db", "/mlruns/artifacts", "/.prefect"} <= set(ignored)
    assert (root / "mlruns" / ".gitkeep").is_file() and (root / ".dvc").is_dir()
