"""One deletion batch = one transaction, and this module is its only owner (../shared/DESIGN.md).

    begin    claim pending requests (or resume a crashed batch), snapshot the aliases
    flow     extract -> validate -> unlearn -> evaluate -> register -> promote -> commit data
    commit   the ledger says finished (the commit point); then, outside the transaction, aliases
             are moved off tainted versions and the batch is purged (the feature net is retrained
             after the batch, by flows/follow_up.py)
    rollback aliases back, the batch's version *and* its run deleted, data/ and git restored from
             the journal (flows/data_commit.py), requests back to pending with the error

`forgetflow run`, a manual `promote` of a needs_review batch and `reject` all come through here
under the same workspace lock. Prefect's own transactions are not used: a committed key never
rolls back again, and a batch spans registry, DVC and git, which Prefect cannot undo.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from components import ledger as ledgers
from components import registry
from components.errors import BadInputError, ForgetflowError, RegistryError
from components.ledger import provenance
from components.locations import require_own_store
from flows import batch_steps as steps
from flows import data_commit
from flows.compliance import index, taint
from flows.params import Params
from flows.workspace import Workspace, file_lock

log = logging.getLogger(__name__)


class BatchBusyError(ForgetflowError):
    """Another deletion batch (or purge) holds this workspace's lock."""


@dataclass(frozen=True)
class BatchOutcome:
    batch_id: str
    status: str  # promoted | needs_review | failed | idle
    model_version: int | None
    report: Path | None
    error: str | None = None


@contextmanager
def batch_lock(ws: Workspace, wait: float = 0.0) -> Iterator[None]:
    """One batch per workspace, waiting up to `wait` seconds for it."""
    with file_lock(
        ws.state_dir / "batch.lock",
        wait,
        lambda pid: BatchBusyError(f"another deletion batch is running in {ws.root} (pid {pid}); wait for it to finish"),
    ):
        yield


def run(ws: Workspace, params: Params, method: str | None = None, max_requests: int | None = None) -> BatchOutcome:
    """Begin (or resume) a batch, run its steps (the Prefect flow), then commit or roll back.

    Both paths end in the same calls: a batch that crashed after its data commit resumes straight
    to `commit`; one that crashed before it is undone and its steps run again."""
    from flows.deletion_batch import deletion_batch  # the steps; they import the heavy libraries

    require_own_store(ws.root)  # a copied workspace must not claim, resume or touch anything before `relocate`
    with batch_lock(ws), ledgers.Ledger(ws.ledger_path) as book:
        batch = book.running_batch()
        committed = False
        if batch is not None:
            log.warning("resuming %s, left running by an interrupted run", batch.id)
            committed = data_commit.is_committed(ws, batch.id)  # then finish forward, never back
            if not committed:
                data_commit.undo(ws, batch.id)
        else:
            batch = _begin(ws, params, book, method or params.unlearn.method, max_requests or params.batch.max_requests)
            if batch is None:
                return BatchOutcome("", "idle", None, None)
        if not committed:
            try:
                committed = deletion_batch(ws, params, batch.id)
            except Exception as exc:  # any failure before the commit point: put everything back
                error = f"{type(exc).__name__}: {exc}"
                _give_back(ws, params, book, book.batch(batch.id), error, attempt=True)
                return BatchOutcome(batch.id, "failed", None, ws.reports_dir / f"{batch.id}.md", error)
        commit(ws, params, batch.id, committed)
        return _outcome(ws, book.batch(batch.id))


def recover(ws: Workspace, params: Params, reason: str, wait: float = 60.0) -> str | None:
    """Leave no batch half-done after an interruption (serve stopped, worker killed): finish it
    forward if its data commit happened, else roll it back now; its requests wait for the next run
    without losing an attempt. Returns what was done, or None if no batch was running."""
    with batch_lock(ws, wait), ledgers.Ledger(ws.ledger_path) as book:
        batch = book.running_batch()
        if batch is None:
            return None
        if data_commit.is_committed(ws, batch.id):
            commit(ws, params, batch.id, True)
            return f"{batch.id}: finished forward (its data commit had happened)"
        _give_back(ws, params, book, batch, f"interrupted: {reason}", attempt=False)
        return f"{batch.id}: rolled back; its requests are pending again"


def _outcome(ws: Workspace, batch: ledgers.Batch, error: str | None = None) -> BatchOutcome:
    return BatchOutcome(batch.id, batch.status, batch.model_version, ws.reports_dir / f"{batch.id}.md", error)


def _begin(ws: Workspace, params: Params, book: ledgers.Ledger, method: str, max_requests: int) -> ledgers.Batch | None:
    if not book.requests("pending"):
        return None
    client = registry.connect(ws.root, params.registry.experiment)
    require_servable_parent(params, client)
    batch = book.open_batch(method, max_requests)
    if batch is not None:
        book.update_batch(batch.id, details={"aliases_before": registry.aliases(client, params.registry.model_name)})
    return batch


def require_servable_parent(params: Params, client) -> None:
    """A batch starts from the champion's weights: refuse before claiming any request if they are gone."""
    name = params.registry.model_name
    version = registry.aliases(client, name).get(registry.CHAMPION)
    if version is None:
        return  # the flow's own "no champion" error says what to do
    check = registry.check_weights(client, name, version)
    if not check.servable:
        raise RegistryError(
            f"champion v{version}'s weights are {check.state} ({check.detail}); no request was claimed. "
            "Way forward: `forgetflow rollback` to a version whose weights audit ok, or retrain "
            "(`dvc repro train_base`)"
        )


def commit(ws: Workspace, params: Params, batch_id: str, promoted: bool) -> None:
    """The commit point: the ledger says the batch finished (promoted, or waiting for review)."""
    with ledgers.Ledger(ws.ledger_path) as book:
        book.finish_batch(batch_id, "promoted" if promoted else "needs_review", book.batch(batch_id).model_version)
    _after_commit(ws, params, batch_id, promoted)


def _after_commit(ws: Workspace, params: Params, batch_id: str, promoted: bool) -> None:
    """What follows every commit, automatic or a person's promotion, on the normal and the resume
    path alike: the journal goes, a promotion's consequences, the aliases recorded, the report."""
    data_commit.finalize(ws, batch_id)
    if promoted:
        after_promotion(ws, params, batch_id)
    _record_aliases_after(ws, params, batch_id)
    steps.write_report(ws, params, batch_id)


def _give_back(ws: Workspace, params: Params, book: ledgers.Ledger, batch: ledgers.Batch, error: str, attempt: bool) -> None:
    """Roll the batch back, its requests to pending with the error (`attempt`: it counts towards
    batch.max_attempts), and write its report."""
    _roll_back(ws, params, batch)
    book.fail_batch(batch.id, error, params.batch.max_attempts, attempt=attempt)
    steps.write_report(ws, params, batch.id)


def after_promotion(ws: Workspace, params: Params, batch_id: str) -> None:
    """Forgotten data must leave everything served: aliases, then (auto) the stores; then the DVC
    remote gets what is current. The feature net (not served: the metrics' classifier) is retrained
    after the batch, in its own flow run (flows/follow_up.py), so a batch's time does not grow with
    the data it keeps.

    Each part is re-checked later (the feature net before every evaluation, purge on demand), so a
    failure here is logged and recorded, never a reason to undo the promoted batch.
    """
    from flows.compliance import purge

    client = registry.connect(ws.root, params.registry.experiment)
    seconds = {}
    for part, action in (
        ("aliases", lambda: taint.move_aliases_off_tainted(ws, client)),
        ("purge", lambda: purge.purge(ws, params, batch_id) if params.batch.purge == "auto" else None),
        ("push", lambda: push(ws, batch_id)),
    ):
        start = time.perf_counter()
        try:
            action()
        except Exception as exc:
            log.exception("%s: %s after promotion failed", batch_id, part)
            with ledgers.Ledger(ws.ledger_path) as book:
                book.event("batch", batch_id, f"{part}_failed", error=f"{type(exc).__name__}: {exc}")
        seconds[part] = round(time.perf_counter() - start, 2)
    with ledgers.Ledger(ws.ledger_path) as book:  # the batch's timings cover the transaction; these follow it
        book.update_batch(batch_id, details=book.batch(batch_id).details | {"after_promotion_timings": seconds})


def push(ws: Workspace, batch_id: str) -> None:
    """The DVC remote (if any) gets the data and checkpoints the promotion made current."""
    from flows import dvc_repo

    pushed = dvc_repo.push(ws)
    if pushed is not None:
        with ledgers.Ledger(ws.ledger_path) as book:
            book.event("batch", batch_id, "pushed", objects=pushed[0], remote=pushed[1])


def _record_aliases_after(ws: Workspace, params: Params, batch_id: str) -> None:
    client = registry.connect(ws.root, params.registry.experiment)
    with ledgers.Ledger(ws.ledger_path) as book:
        details = book.batch(batch_id).details
        details["aliases_after"] = index.sync_aliases(ws, client, params.registry.model_name)
        book.update_batch(batch_id, details=details)


def _roll_back(ws: Workspace, params: Params, batch: ledgers.Batch) -> None:
    """Undo every side effect of a failed batch: aliases, the version and its run, data/, git."""
    client = registry.connect(ws.root, params.registry.experiment)
    name = params.registry.model_name
    registry.restore_aliases(client, name, batch.details.get("aliases_before", {}))
    version = registry.version_for_batch(client, name, batch.id)
    if version is not None:
        registry.delete_version_and_run(client, name, version)
        with ledgers.Ledger(ws.ledger_path) as book:
            provenance.forget_artifact(book, provenance.version_id(name, version))
    data_commit.undo(ws, batch.id)
    index.sync_aliases(ws, client, name)


def promote_reviewed(ws: Workspace, params: Params, batch_id: str, version: int, reason: str) -> int | None:
    """A person promotes a needs_review batch's version: the same commit as an automatic promotion."""
    with batch_lock(ws), ledgers.Ledger(ws.ledger_path) as book:
        client = registry.connect(ws.root, params.registry.experiment)
        name = params.registry.model_name
        before = registry.aliases(client, name)
        try:
            previous = registry.promote(client, name, version, reason)
            steps.commit_data(ws, params, batch_id, version)
            book.resolve_review(batch_id, version)
        except Exception:
            registry.restore_aliases(client, name, before)
            data_commit.undo(ws, batch_id)
            index.sync_aliases(ws, client, name)
            raise
    _after_commit(ws, params, batch_id, promoted=True)
    return previous


def reject(ws: Workspace, params: Params, batch_id: str, reason: str) -> ledgers.Batch:
    """A person refuses a needs_review batch: requests go back to pending (failed after max
    attempts), the challenger alias goes; the version stays in the registry, tagged rejected."""
    if not reason.strip():
        raise BadInputError("reject needs --reason TEXT (it is kept in the ledger and on the version)")
    with batch_lock(ws), ledgers.Ledger(ws.ledger_path) as book:
        batch = book.batch(batch_id)
        if batch.status != "needs_review":
            raise BadInputError(f"{batch_id} is {batch.status}; only a needs_review batch can be rejected")
        client = registry.connect(ws.root, params.registry.experiment)
        name = params.registry.model_name
        if batch.model_version is not None:
            if registry.aliases(client, name).get(registry.CHALLENGER) == batch.model_version:
                registry.remove_alias(client, name, registry.CHALLENGER, batch.model_version, f"{batch_id} rejected: {reason}")
            client.set_model_version_tag(name, str(batch.model_version), "rejected", reason)
        book.reject_batch(batch_id, reason, params.batch.max_attempts)
        index.sync_aliases(ws, client, name)
        return book.batch(batch_id)


def pending_review(ws: Workspace, batch_id: str | None) -> ledgers.Batch | None:
    """The needs_review batch a version belongs to (None for versions no batch waits on)."""
    if not batch_id:
        return None
    with ledgers.Ledger(ws.ledger_path) as book:
        try:
            batch = book.batch(batch_id)
        except ledgers.LedgerError:
            raise RegistryError(f"the registry names {batch_id}, which this workspace's ledger does not know") from None
    return batch if batch.status == "needs_review" else None


def outcome_json(outcome: BatchOutcome) -> str:
    return json.dumps(asdict(outcome), default=str)
