"""The model behind an alias is read, not assumed: `status` hashes it, `audit` loads it through
MLflow and verifies the ledger's history, and a batch never starts from weights that are gone."""

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from components import ledger as ledgers
from components.errors import RegistryError
from components.ledger import provenance
from flows.cli import app
from flows.params import load_params
from flows.transaction import run as run_batch
from tests.flows.conftest import file_requests

pytestmark = pytest.mark.integration
MODEL = "forgetflow-mae"


def status_weights(ws) -> dict:
    result = CliRunner().invoke(app, ["status", "--json", "-w", str(ws.root)])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["weights"]


def audit(ws):
    return CliRunner().invoke(app, ["audit", "-w", str(ws.root)])


def champion_weights(ws):
    with ledgers.Ledger(ws.ledger_path) as book:
        return ws.root / provenance.artifacts(book)[provenance.version_id(MODEL, 1)].weights_path


def test_a_healthy_workspace_audits_clean(trained):
    assert status_weights(trained) == {"champion": "ok"}
    result = audit(trained)
    assert result.exit_code == 0, result.output
    assert "ok     ledger:" in result.output and "hash chain intact" in result.output
    assert f"ok     {MODEL}@champion: v1 ok: sha256" in result.output


def test_corrupt_champion_weights_are_reported_by_status_and_fail_the_audit(trained):
    path = champion_weights(trained)
    path.write_bytes(path.read_bytes()[:100])  # a truncated file, as a full disk leaves one

    assert status_weights(trained) == {"champion": "corrupt"}
    result = audit(trained)
    assert result.exit_code == 1
    assert f"FAILED {MODEL}@champion: v1 corrupt" in result.output and "audit failed" in result.output


def test_missing_champion_weights_refuse_a_batch_before_it_claims_anything(trained):
    champion_weights(trained).unlink()
    ids, _ = file_requests(trained)

    assert status_weights(trained) == {"champion": "missing"}
    assert f"FAILED {MODEL}@champion: v1 missing" in audit(trained).output
    with pytest.raises(RegistryError, match="champion v1's weights are missing.*no request was claimed"):
        run_batch(trained, load_params(trained.params_file))
    with ledgers.Ledger(trained.ledger_path) as book:
        assert [book.request(i).status for i in ids] == ["pending"] * len(ids) and book.batches() == []


def test_an_edited_ledger_event_fails_the_audit_and_names_it(trained):
    file_requests(trained)
    db = sqlite3.connect(trained.ledger_path)
    db.execute("UPDATE events SET detail = '{}' WHERE event = 'filed' AND entity_id = 'req-000002'")
    db.commit()
    db.close()

    result = audit(trained)
    assert result.exit_code == 1
    assert "FAILED ledger: history tampered with: event #" in result.output and "(req-000002 filed)" in result.output
