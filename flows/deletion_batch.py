"""One deletion batch = one Prefect flow run = one transaction (../shared/DESIGN.md, the picture).

    extract -> validate -> unlearn -> evaluate -> register -> promote -> commit_data

Tasks pass paths and ids, never models or tensors. The transaction is forgetflow's own (see
`run_batch`): the ledger records each step, and on any exception the registry aliases, data/,
data.dvc and git are put back and the requests return to pending with the error. A run killed
with -9 leaves its batch `running`; the next run resumes it under the same id, and a batch never
registers a second model version (the version is found by its `deletion_batch_id` tag).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from components import ledger as ledgers
from components import registry
from components.errors import DataValidationError, ForgetflowError
from flows import batch_steps as steps
from flows import data_commit
from flows.params import Params, load_params
from flows.workspace import Workspace

log = logging.getLogger(__name__)
TASK_OPTIONS = {"cache_policy": NO_CACHE, "persist_result": False}


class BatchBusyError(ForgetflowError):
    """Another deletion batch holds this workspace's lock."""


@dataclass(frozen=True)
class BatchOutcome:
    batch_id: str
    status: str  # promoted | needs_review | failed | idle
    model_version: int | None
    report: Path | None
    error: str | None = None


@task(name="extract", **TASK_OPTIONS)
def extract(root: Path, batch_id: str) -> Path:
    return steps.extract(*_open(root), batch_id)


@task(name="validate", **TASK_OPTIONS)
def validate(root: Path, batch_id: str) -> Path:
    ws, params = _open(root)
    report_path, report = steps.validate(ws, params, batch_id)
    if not report.success:
        create_markdown_artifact(key=f"{batch_id}-validation", markdown=f"# {batch_id}: validation failed\n\n{report.summary()}\n",
                                 description="Great Expectations failures")
        raise DataValidationError(f"validation failed: {report.summary()}")
    return report_path


@task(name="unlearn", **TASK_OPTIONS)
def unlearn(root: Path, batch_id: str) -> Path:
    checkpoint = steps.unlearn(*_open(root), batch_id)
    get_run_logger().info("unlearned checkpoint %s", checkpoint.name)
    return checkpoint


@task(name="evaluate", **TASK_OPTIONS)
def evaluate(root: Path, batch_id: str, checkpoint: Path) -> Path:
    return steps.evaluate(*_open(root), batch_id, checkpoint)


@task(name="register", **TASK_OPTIONS)
def register(root: Path, batch_id: str, checkpoint: Path, evaluation: Path) -> int:
    return steps.register(*_open(root), batch_id, checkpoint, evaluation)


@task(name="promote", **TASK_OPTIONS)
def promote(root: Path, batch_id: str, version: int, evaluation: Path) -> bool:
    return steps.promote(*_open(root), batch_id, version, evaluation)


@task(name="commit_data", **TASK_OPTIONS)
def commit_data(root: Path, batch_id: str, version: int) -> str:
    return steps.commit_data(*_open(root), batch_id, version)


@flow(name="deletion-batch", log_prints=False)
def deletion_batch(root: Path, batch_id: str) -> str:
    """The picture, one line per step. Returns the batch's final status."""
    extract(root, batch_id)
    validate(root, batch_id)
    checkpoint = unlearn(root, batch_id)
    evaluation = evaluate(root, batch_id, checkpoint)
    version = register(root, batch_id, checkpoint, evaluation)
    promoted = promote(root, batch_id, version, evaluation)
    if promoted:
        commit_data(root, batch_id, version)
    steps.finish(Workspace(root), batch_id, promoted, version)
    try:  # the batch is committed: a report that fails to render must not undo it
        report = steps.write_report(*_open(root), batch_id)
        create_markdown_artifact(key=batch_id, markdown=report.read_text(), description=f"deletion batch {batch_id}")
    except Exception:  # noqa: BLE001
        get_run_logger().exception("could not write the report of %s", batch_id)
    return "promoted" if promoted else "needs_review"


def run_batch(ws: Workspace, params: Params, method: str | None = None, max_requests: int | None = None) -> BatchOutcome:
    """Claim pending requests (or resume a crashed batch) and run the flow as one transaction."""
    with batch_lock(ws):
        ledger = ledgers.Ledger(ws.ledger_path)
        try:
            batch = ledger.running_batch()
            if batch is not None:
                log.warning("resuming %s, left running by an interrupted run", batch.id)
                if data_commit.is_committed(ws, batch.id):  # crashed after the data commit: only bookkeeping left
                    steps.finish(ws, batch.id, True, batch.model_version)
                    return BatchOutcome(batch.id, "promoted", batch.model_version, steps.write_report(ws, params, batch.id))
                data_commit.undo(ws, batch.id)
            else:
                batch = ledger.open_batch(method or params.unlearn.method, max_requests or params.batch.max_requests)
                if batch is None:
                    return BatchOutcome("", "idle", None, None)
                client = registry.connect(ws.root, params.registry.experiment)
                ledger.update_batch(batch.id, details={"aliases_before": registry.aliases(client, params.registry.model_name)})
            try:
                status = deletion_batch(ws.root, batch.id)
            except Exception as exc:  # any failure: put everything back, requests return to pending
                error = f"{type(exc).__name__}: {exc}"
                steps.roll_back(ws, params, ledger.batch(batch.id))
                ledger.fail_batch(batch.id, error, params.batch.max_attempts)
                return BatchOutcome(batch.id, "failed", None, steps.write_report(ws, params, batch.id), error)
            final = ledger.batch(batch.id)
            return BatchOutcome(batch.id, status, final.model_version, ws.reports_dir / f"{batch.id}.md")
        finally:
            ledger.close()


@contextmanager
def batch_lock(ws: Workspace) -> Iterator[None]:
    """One batch per workspace. flock is released by the kernel if the process dies (kill -9)."""
    ws.state_dir.mkdir(parents=True, exist_ok=True)
    with open(ws.state_dir / "batch.lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            raise BatchBusyError(f"another deletion batch is running in {ws.root} (pid {fh.read().strip() or '?'}); "
                                 "wait for it to finish") from None
        fh.truncate(0)
        fh.write(str(os.getpid()))
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _open(root: Path) -> tuple[Workspace, Params]:
    ws = Workspace(Path(root))
    return ws, load_params(ws.params_file)


def outcome_json(outcome: BatchOutcome) -> str:
    return json.dumps(asdict(outcome), default=str)
