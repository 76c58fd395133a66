"""One deletion batch = one Prefect flow run (../shared/DESIGN.md, the picture).

    extract -> validate -> unlearn -> evaluate -> register -> promote -> commit_data

Tasks pass paths and ids, never models or tensors. The flow is one part of a transaction owned
by `flows/transaction.py` (begin, commit, rollback, resume); `run_batch` hands it over.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from components.errors import DataValidationError
from flows import batch_steps as steps
from flows import transaction
from flows.params import Params, load_params
from flows.transaction import BatchOutcome
from flows.workspace import Workspace

TASK_OPTIONS = {"cache_policy": NO_CACHE, "persist_result": False}


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
    """The picture, one line per step. Returns "promoted" or "needs_review"; the transaction commits."""
    steps.import_libraries(Workspace(Path(root)), batch_id)
    extract(root, batch_id)
    validate(root, batch_id)
    checkpoint = unlearn(root, batch_id)
    evaluation = evaluate(root, batch_id, checkpoint)
    version = register(root, batch_id, checkpoint, evaluation)
    promoted = promote(root, batch_id, version, evaluation)
    if promoted:
        commit_data(root, batch_id, version)
    transaction.commit(*_open(root), batch_id, promoted, version)
    try:  # the batch is committed: a report that fails to render must not undo it
        report = steps.write_report(*_open(root), batch_id)
        create_markdown_artifact(key=batch_id, markdown=report.read_text(), description=f"deletion batch {batch_id}")
    except Exception:
        get_run_logger().exception("could not write the report of %s", batch_id)
    return "promoted" if promoted else "needs_review"


def run_batch(ws: Workspace, params: Params, method: str | None = None, max_requests: int | None = None) -> BatchOutcome:
    """Claim pending requests (or resume a crashed batch) and run the flow as one transaction."""
    return transaction.run(ws, params, deletion_batch, method, max_requests)


def _open(root: Path) -> tuple[Workspace, Params]:
    ws = Workspace(Path(root))
    return ws, load_params(ws.params_file)


def outcome_json(outcome: BatchOutcome) -> str:
    return json.dumps(asdict(outcome), default=str)
