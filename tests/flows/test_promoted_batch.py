"""One promoted deletion batch, read as named specs (the real stack in a temp dir: Prefect, GX,
MLflow, DVC, git). The batch runs once for the module; the specs read it, and the last ones (the
follow-up, a rerun) change it, in file order."""

import json
import shutil
from types import SimpleNamespace

import pytest
import yaml
from mlflow import MlflowClient

from components import ledger as ledgers
from components import registry
from components.data import read_manifest
from components.ledger import provenance
from components.locations import relocate
from flows import invariants, transaction, workspace
from flows.follow_up import refresh_featurenet
from flows.params import load_params
from flows.prepare import prepare
from flows.transaction import run as run_batch
from flows.workspace import git
from tests.flows.conftest import dvc, file_requests
from tests.flows.test_deletion_batch import MODEL, dvc_status, forgotten_files, kept_bytes

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def batch(trained_template, tmp_path_factory, prefect_api):
    root = shutil.copytree(trained_template, tmp_path_factory.mktemp("promoted") / "ws", symlinks=True)
    relocate(root)
    ws = workspace.resolve(root)
    params = load_params(ws.params_file)
    request_ids, removed = file_requests(ws)
    md5_before = ws.data_version()
    featurenet_before = json.loads((ws.models_dir / "featurenet.json").read_text())["weights_sha256"]
    outcome = run_batch(ws, params)
    uri = registry.tracking_uri(ws.root)
    return SimpleNamespace(
        ws=ws,
        params=params,
        request_ids=request_ids,
        removed=removed,
        md5_before=md5_before,
        featurenet_before=featurenet_before,
        outcome=outcome,
        client=MlflowClient(uri, uri),
    )


class Killed(BaseException):
    """Stands for a SIGKILL between the data commit and the ledger's commit point (not an
    Exception: nothing in the product may catch it, as nothing can catch a kill)."""


def outcome_of(ws) -> dict:
    with ledgers.Ledger(ws.ledger_path) as book:
        events = [(r["entity"], r["entity_id"], r["event"]) for r in book.query("SELECT * FROM events ORDER BY seq")]
        batch = book.batch("batch-000001")
        state = {
            "requests": [(r.id, r.status) for r in book.requests()],
            "tombstones": book.tombstones(),
            "batch": (batch.status, batch.model_version, batch.data_md5_after),
        }
    files = sorted(
        str(p.relative_to(ws.root)) for d in ("data", "models", "reports") for p in (ws.root / d).rglob("*") if p.is_file()
    )
    return {"events": events, "state": state, "files": files, "tags": git(ws.root, "tag"), "data.dvc": ws.data_dvc.read_text()}


def test_a_batch_resumed_after_its_data_commit_ends_as_this_uninterrupted_one(batch, trained_template, tmp_path, monkeypatch):
    """The lifecycle has one owner (flows/transaction.py): whatever path a batch takes to its commit,
    the same calls follow it."""
    resumed = workspace.resolve(shutil.copytree(trained_template, tmp_path / "resumed", symlinks=True))
    relocate(resumed.root)
    file_requests(resumed)
    real = transaction.commit

    def killed(*args, **kwargs):
        raise Killed

    monkeypatch.setattr(transaction, "commit", killed)
    with pytest.raises(Killed):
        transaction.run(resumed, batch.params)
    with ledgers.Ledger(resumed.ledger_path) as book:
        assert book.running_batch().step == "commit_data"  # data committed, the ledger not yet
    monkeypatch.setattr(transaction, "commit", real)
    assert transaction.run(resumed, batch.params).status == "promoted"

    assert outcome_of(resumed) == outcome_of(batch.ws)
    assert invariants.check(resumed, batch.params) == []


def test_the_unlearned_version_becomes_champion_and_no_older_version_stays_served(batch):
    assert batch.outcome.status == "promoted" and batch.outcome.model_version == 2
    assert registry.aliases(batch.client, MODEL) == {"champion": 2}  # v1 saw the forgotten data: no previous-champion
    assert "forgotten by batch-000001" in batch.client.get_model_version(MODEL, "1").tags["alias.previous-champion.removed"]


def test_the_version_names_its_parent_batch_requests_data_versions_and_method(batch):
    tags = batch.client.get_model_version(MODEL, "2").tags
    assert tags["parent_version"] == "1" and tags["deletion_batch_id"] == batch.outcome.batch_id
    assert tags["request_ids"] == ",".join(batch.request_ids) and tags["n_forget"] == str(len(batch.removed))
    assert (
        tags["data_dvc_md5_before"] == batch.md5_before
        and tags["data_dvc_md5_after"] == batch.ws.data_version() != batch.md5_before
    )
    assert tags["method"] == "encoder-noise" and tags["gates_passed"] == "true" and len(tags["forget_set_sha256"]) == 64


def test_the_forgotten_samples_leave_data_in_a_new_dvc_version_committed_and_tagged(batch):
    ws = batch.ws
    assert not batch.removed & {s.sample_id for s in read_manifest(ws.data_dir)}
    assert not any(ws.data_dir.rglob(f"{next(iter(batch.removed))}.png"))
    assert git(ws.root, "tag") == "forget-batch-000001" and not git(ws.root, "status", "--porcelain")
    assert (
        dvc(ws.root, "status", "data.dvc", "models/unlearned.dvc", "train_base").stdout.strip()
        == "Data and pipelines are up to date."
    )
    recorded, files = yaml.safe_load(ws.data_dvc.read_text())["outs"][0], [p for p in ws.data_dir.rglob("*") if p.is_file()]
    assert (recorded["size"], recorded["nfiles"]) == (sum(p.stat().st_size for p in files), len(files))  # as `dvc add` counts


def test_the_requests_are_done_with_tombstones_and_the_report_says_promoted(batch):
    with ledgers.Ledger(batch.ws.ledger_path) as book:
        assert {(r.status, r.model_version) for r in book.requests()} == {("done", 2)}
        assert set(book.tombstones()) == batch.removed
    report = batch.outcome.report.read_text()
    assert "promoted" in report and "| unlearn |" in report


def test_the_class_is_judged_against_a_never_seen_reference_and_the_parent_on_the_same_evidence(batch):
    evaluation = json.loads((batch.ws.batch_dir(batch.outcome.batch_id) / "evaluation.json").read_text())
    (trouser,) = evaluation["evidence"]["classes"]  # the label request
    assert trouser["label"] == 1 and trouser["psnr"]["se"] > 0 and trouser["psnr"]["n"] > 1 and trouser["psnr_reference"] > 0
    verdicts = {g["name"]: g["verdict"] for g in evaluation["gates"]}
    assert {"sample", "class_psnr", "retain_psnr"} <= set(verdicts) and "class" not in verdicts  # recognisability is not gated
    assert evaluation["parent_verdicts"].keys() == {"sample", "class_psnr"}


def test_the_automatic_purge_removes_forgotten_images_from_the_cache_and_the_parent_weights(batch):
    ws = batch.ws
    cached = {p.read_bytes() for p in (ws.root / ".dvc" / "cache").rglob("*") if p.is_file()}
    forgotten_pngs = forgotten_files(ws, batch.removed)
    assert forgotten_pngs and not any(png in cached for png in forgotten_pngs if png not in kept_bytes(ws))
    v1 = batch.client.get_model_version(MODEL, "1")
    assert v1.tags["purged_by"] == "batch-000001" and v1.tags["stage"] == "base"  # the entry and lineage stay
    with pytest.raises(Exception, match="No such artifact|RESOURCE_DOES_NOT_EXIST|cannot load"):
        registry.load_inpainter(MODEL, "1")
    assert json.loads((ws.models_dir / "base.json").read_text())["purged_by"] == "batch-000001"


def test_the_feature_net_is_retrained_after_the_batch_and_its_old_weights_purged(batch):
    ws, before = batch.ws, batch.featurenet_before
    assert json.loads((ws.models_dir / "featurenet.json").read_text())["weights_sha256"] == before  # the batch left it
    with ledgers.Ledger(ws.ledger_path) as book:  # until the follow-up, `contains` shows it holding the samples
        assert any(
            a.kind == "featurenet" and a.weights_sha256 == before and not a.purged_by for a in provenance.artifacts(book).values()
        )

    assert refresh_featurenet(ws, batch.params) is True

    assert json.loads((ws.models_dir / "featurenet.json").read_text())["weights_sha256"] != before
    with ledgers.Ledger(ws.ledger_path) as book:
        assert [a.purged_by for a in provenance.artifacts(book).values() if a.weights_sha256 == before] == ["batch-000001"]
        assert [e["event"] for e in book.events("models/featurenet.pt")] == ["refreshed"]
    assert refresh_featurenet(ws, batch.params) is False  # nothing stale any more
    assert dvc_status(ws) == "Data and pipelines are up to date."  # the feature net's stage too, now


def test_a_rerun_finds_nothing_pending_and_forgotten_samples_stay_forgotten(batch):
    ws, params = batch.ws, batch.params
    assert run_batch(ws, params).status == "idle"
    assert len(batch.client.search_model_versions(f"name='{MODEL}'")) == 2
    assert prepare(ws, params, force=True).data_md5 == ws.data_version()


def test_reindex_rebuilds_the_version_index_from_mlflow_tags_and_the_ledger(batch):
    from typer.testing import CliRunner

    from flows.cli import app

    def versions(book):
        return {
            a.id: (a.set_id, a.parent_id, a.batch_id, a.data_md5, a.weights_sha256, a.run_id, a.purged_by)
            for a in provenance.artifacts(book).values()
            if a.kind == "model_version"
        }

    with ledgers.Ledger(batch.ws.ledger_path) as book:
        before = versions(book)
        with book.transaction() as db:  # an index lost (or written by an older forgetflow)
            db.execute("DELETE FROM artifacts WHERE kind = 'model_version'")
        assert versions(book) == {}

    result = CliRunner().invoke(app, ["reindex", "-w", str(batch.ws.root)])

    assert result.exit_code == 0 and "indexed 2 model versions" in result.output, result.output
    with ledgers.Ledger(batch.ws.ledger_path) as book:
        assert versions(book) == before and len(before) == 2
