"""The CLI end to end on a tiny workspace, with the real git, DVC and MLflow."""

import json
import subprocess
import sys
import time
from datetime import UTC

import pytest
import yaml
from mlflow import MlflowClient
from typer.testing import CliRunner

from components import registry
from components.data import read_manifest
from flows.cli import app
from flows.workspace import commit, git
from tests.conftest import write_params
from tests.flows.conftest import MECHANICS_UNLEARN, PASSING_GATES

pytestmark = pytest.mark.integration
runner = CliRunner()


def forgetflow(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_help_and_bookkeeping_imports_answer_fast_without_heavy_libraries(cli_env):
    code = (
        "import sys, time; t = time.perf_counter(); from flows.cli import app; import flows.params, flows.status, flows.views, flows.compliance.contains; "
        "print(time.perf_counter() - t, sorted(m for m in ('torch', 'mlflow', 'torchmetrics', 'great_expectations', 'prefect') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env, check=True).stdout.split(
        maxsplit=1
    )
    assert out[1].strip() == "[]"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "flows.cli", "--help"], capture_output=True, env=cli_env, check=True)
    assert time.perf_counter() - start < 2.0


def test_commands_refuse_an_uninitialised_workspace_with_one_line(tmp_path):
    result = runner.invoke(app, ["prepare", "-w", str(tmp_path)])
    assert result.exit_code == 1 and "not an initialised forgetflow workspace" in result.output


def test_prepare_reports_a_corrupt_source_and_writes_nothing(tiny_workspace, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b junk")
    result = runner.invoke(app, ["prepare", "-w", str(tiny_workspace), "--source", str(bad)])
    assert result.exit_code == 1 and "error:" in result.output
    assert not (tiny_workspace / "data").exists() and not (tiny_workspace / "data.dvc").exists()


def test_init_prepare_train_registers_a_champion_and_dvc_repro_is_then_a_no_op(tiny_workspace, cli_env):
    ws = str(tiny_workspace)
    assert "80 samples" in forgetflow("prepare", "-w", ws).output
    assert "up to date" in forgetflow("prepare", "-w", ws).output
    pointer = yaml.safe_load((tiny_workspace / "data.dvc").read_text())
    assert pointer["outs"][0]["nfiles"] == 81  # 80 PNGs + manifest

    repro = subprocess.run(["dvc", "repro"], cwd=ws, env=cli_env, capture_output=True, text=True)
    assert repro.returncode == 0, repro.stdout + repro.stderr
    metrics = json.loads((tiny_workspace / "metrics" / "base.json").read_text())
    assert 0 < metrics["psnr_centre"] < 100 and 0 <= metrics["accuracy_centre"] <= 1
    assert (tiny_workspace / "reports" / "base_grid.png").is_file()

    again = subprocess.run(["dvc", "repro"], cwd=ws, env=cli_env, capture_output=True, text=True)
    assert "didn't change, skipping" in again.stdout and "Running stage" not in again.stdout

    uri = registry.tracking_uri(tiny_workspace)
    client = MlflowClient(uri, uri)  # explicit registry uri: an earlier test may have set the global one
    champion = client.get_model_version_by_alias("forgetflow-mae", "champion")
    assert len(client.search_model_versions("name='forgetflow-mae'")) == 1
    assert champion.tags["data_dvc_md5"] == pointer["outs"][0]["md5"] and champion.tags["stage"] == "base"
    assert len(champion.tags["git_commit"].split("+")[0]) == 40 and len(champion.tags["params_sha256"]) == 64
    assert "champion" in forgetflow("status", "-w", ws).output


def test_train_without_a_feature_net_says_what_to_run(tiny_workspace):
    forgetflow("prepare", "-w", str(tiny_workspace))
    result = runner.invoke(app, ["train", "-w", str(tiny_workspace)])
    assert result.exit_code == 1 and "forgetflow train-featurenet" in result.output


def test_requests_and_status_show_deadlines_and_what_a_scheduled_run_would_do(tiny_workspace):
    from datetime import datetime, timedelta

    from tests.conftest import write_params

    ws = str(tiny_workspace)
    forgetflow("prepare", "-w", ws)
    write_params(tiny_workspace, {"batch": {"deadline_days": 3}, "schedule": {"deadline_margin_days": 5, "min_batch_size": 1000}})
    filed = json.loads(forgetflow("request", "-w", ws, "--label", "Trouser", "--json").output)
    left = datetime.fromisoformat(filed["due_at"]) - datetime.now(UTC)
    assert timedelta(days=2.99) < left <= timedelta(days=3)

    assert [r["deadline"] for r in json.loads(forgetflow("requests", "-w", ws, "--json").output)] == ["at risk"]
    assert "at risk" in forgetflow("requests", "-w", ws).output
    status = json.loads(forgetflow("status", "-w", ws, "--json").output)
    queue = status["requests"]
    assert queue["pending"] == 1 and queue["at_risk"] == 1 and queue["overdue"] == []
    assert queue["nearest_deadline"] == {"id": filed["request_id"], "due_at": filed["due_at"]}
    assert status["next_run_would"]["run"] and f"{filed['request_id']} is due" in status["next_run_would"]["reason"]
    assert status["schedule"] == {"serving": False} and status["champion"] is None
    assert "nearest deadline" in forgetflow("status", "-w", ws).output


def test_the_demo_runs_end_to_end_and_commits_what_dvc_repro_recorded(tiny_workspace, prefect_api, monkeypatch, own_prefect_env):
    write_params(
        tiny_workspace,
        {
            "unlearn": MECHANICS_UNLEARN,
            "evaluate": {"min_fid_samples": 5},
            "batch": {"max_forget_fraction": 0.6},
            "gates": PASSING_GATES,
        },
    )
    git(tiny_workspace, "add", "params.yaml")
    commit(tiny_workspace, "tiny params")  # the user's own edit: theirs to commit
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps the report at the terminal width
    result = forgetflow("demo", "-w", str(tiny_workspace))

    assert result.exit_code == 0, result.output
    assert "Deletion batch batch-000001: promoted" in result.output
    assert "forgetflow: data and base model (dvc repro)" in git(tiny_workspace, "log", "--format=%s")
    uri = registry.tracking_uri(tiny_workspace)
    v2 = MlflowClient(uri, uri).get_model_version("forgetflow-mae", "2")
    assert v2.tags["stage"] == "unlearned" and "+" not in v2.tags["git_commit"]  # a commit that holds its base and data
    assert not git(tiny_workspace, "status", "--porcelain")  # every record the demo wrote is committed
    record = json.loads((tiny_workspace / "reports" / "demo.json").read_text())  # the run's own record, which docs quote
    assert record["scenario"] == "default" and set(record["phases_s"]) == {"prepare", "train", "summary", "requests", "batch"}
    assert record["batch"]["status"] == "promoted" and record["batch"]["model_version"] == 2
    assert {g["name"] for g in record["batch"]["gates"]} >= {"sample", "class_psnr"} and record["peak_rss_mib"]["demo"] > 0


def _files(root) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--family", "vae"], "unknown family 'vae'"),
        (["run", "--method", "forget-harder"], "unknown method 'forget-harder'"),
    ],
)
def test_an_unknown_family_or_method_is_bad_input_with_one_line_and_no_write(tiny_workspace, args, message):
    before = _files(tiny_workspace)
    result = runner.invoke(app, ["-w", str(tiny_workspace), *args])
    assert result.exit_code == 2 and result.stdout == "", result.output
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error:") and message in result.stderr
    assert _files(tiny_workspace) == before


@pytest.mark.parametrize(
    "args, message",
    [
        (["requests", "--status", "lost"], "unknown status 'lost'"),
        (["events", "--request", "req-999999"], "no request 'req-999999'"),
        (["reject", "batch-999999", "--reason", "test"], "no batch 'batch-999999'"),
        (["promote", "7"], "has no version or alias '7'"),
        (["trace", "7", "--registry"], "no version or alias '7'"),
    ],
)
def test_a_name_that_names_nothing_is_bad_input_with_one_line(tiny_workspace, args, message):
    from flows.params import load_params

    registry.connect(
        tiny_workspace, load_params(tiny_workspace / "params.yaml").registry.experiment
    )  # MLflow logs its first start
    result = runner.invoke(app, ["-w", str(tiny_workspace), *args])
    assert result.exit_code == 2 and result.stdout == "", result.output
    assert result.stderr.startswith("error:") and message in result.stderr and result.stderr.count("\n") == 1


def test_contains_names_samples_as_request_does_and_positional_ids_still_work_with_a_note(tiny_workspace):
    ws = str(tiny_workspace)
    forgetflow("prepare", "-w", ws)
    ids = [s.sample_id for s in read_manifest(tiny_workspace / "data")][:2]
    new = runner.invoke(app, ["contains", "-w", ws, "--sample", ids[0], "--sample", ids[1], "--json"])
    assert new.exit_code == 0 and new.stderr == "", new.output
    assert json.loads(new.stdout)["n_samples"] == 2
    old = runner.invoke(app, ["contains", *ids, "-w", ws, "--json"])
    assert old.exit_code == 0 and old.stdout == new.stdout
    assert old.stderr == "positional sample ids are deprecated; use --sample ID\n"


def test_every_json_flag_is_the_shared_option():
    from typer.main import get_command

    for name, command in get_command(app).commands.items():
        flags = [p for p in command.params if "--json" in p.opts]
        assert all(p.help == flags[0].help for p in flags), name
