"""The batch lifecycle has one owner (flows/transaction.py): whatever path a batch takes to its
commit, the same calls follow it."""

import shutil

import pytest

from components import ledger as ledgers
from components.locations import relocate
from flows import invariants, transaction, workspace
from flows.params import load_params
from flows.workspace import git
from tests.flows.conftest import file_requests

pytestmark = pytest.mark.integration


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


def test_a_batch_resumed_after_its_data_commit_ends_as_an_uninterrupted_one(trained, trained_template, tmp_path, monkeypatch):
    resumed = workspace.resolve(shutil.copytree(trained_template, tmp_path / "resumed", symlinks=True))
    relocate(resumed.root)
    for ws in (trained, resumed):
        file_requests(ws)
    params = load_params(trained.params_file)
    assert transaction.run(trained, params).status == "promoted"

    real = transaction.commit

    def killed(*args, **kwargs):
        raise Killed

    monkeypatch.setattr(transaction, "commit", killed)
    with pytest.raises(Killed):
        transaction.run(resumed, params)
    with ledgers.Ledger(resumed.ledger_path) as book:
        assert book.running_batch().step == "commit_data"  # data committed, the ledger not yet
    monkeypatch.setattr(transaction, "commit", real)
    assert transaction.run(resumed, params).status == "promoted"

    assert outcome_of(resumed) == outcome_of(trained)
    assert invariants.check(resumed, params) == []
