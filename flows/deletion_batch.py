"""One deletion batch's steps = one Prefect flow run (../shared/DESIGN.md, the picture).

    extract -> validate -> unlearn -> evaluate -> register -> promote -> commit_data

Tasks pass paths, ids and the batch's params (parsed once, by the caller), never models or
tensors. The flow is the middle of a transaction that `flows/transaction.py` owns: it begins (or
resumes) the batch before, and commits or rolls back after; nothing here touches the ledger's
batch status, the report or the work that follows a promotion.
"""

from __future__ import annotations

import json
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from components.errors import DataValidationError
from flows import batch_steps as steps
from flows.params import Params
from flows.workspace import Workspace

TASK_OPTIONS = {"cache_policy": NO_CACHE, "persist_result": False}


@task(name="extract", **TASK_OPTIONS)
def extract(ws: Workspace, params: Params, batch_id: str) -> Path:
    return steps.extract(ws, params, batch_id)


@task(name="validate", **TASK_OPTIONS)
def validate(ws: Workspace, params: Params, batch_id: str) -> Path:
    report_path, report = steps.validate(ws, params, batch_id)
    if not report.success:
        create_markdown_artifact(
            key=f"{batch_id}-validation",
            markdown=f"# {batch_id}: validation failed\n\n{report.summary()}\n",
            description="Great Expectations failures",
        )
        raise DataValidationError(f"validation failed: {report.summary()}")
    return report_path


@task(name="unlearn", **TASK_OPTIONS)
def unlearn(ws: Workspace, params: Params, batch_id: str) -> Path:
    checkpoint = steps.unlearn(ws, params, batch_id)
    get_run_logger().info("unlearned checkpoint %s", checkpoint.name)
    return checkpoint


@task(name="evaluate", **TASK_OPTIONS)
def evaluate(ws: Workspace, params: Params, batch_id: str, checkpoint: Path) -> Path:
    return steps.evaluate(ws, params, batch_id, checkpoint)


@task(name="register", **TASK_OPTIONS)
def register(ws: Workspace, params: Params, batch_id: str, checkpoint: Path, evaluation: Path) -> int:
    return steps.register(ws, params, batch_id, checkpoint, evaluation)


@task(name="promote", **TASK_OPTIONS)
def promote(ws: Workspace, params: Params, batch_id: str, version: int, evaluation: Path) -> bool:
    promoted = steps.promote(ws, params, batch_id, version, evaluation)
    gates = json.loads(evaluation.read_text())["gates"]
    rows = "".join(f"| {g['name']} | {g['detail']} |\n" for g in gates)
    create_markdown_artifact(
        key=batch_id,
        description=f"deletion batch {batch_id}: the gates",
        markdown=f"# {batch_id}: v{version} {'promoted' if promoted else 'needs review'}\n\n"
        f"| gate | verdict |\n|---|---|\n{rows}",
    )
    return promoted


@task(name="commit_data", **TASK_OPTIONS)
def commit_data(ws: Workspace, params: Params, batch_id: str, version: int) -> str:
    return steps.commit_data(ws, params, batch_id, version)


@flow(name="deletion-batch", log_prints=False, validate_parameters=False)
def deletion_batch(ws: Workspace, params: Params, batch_id: str) -> bool:
    """The picture, one line per step. Returns whether the version was promoted (its data committed)."""
    steps.import_libraries(ws, batch_id)
    extract(ws, params, batch_id)
    validate(ws, params, batch_id)
    checkpoint = unlearn(ws, params, batch_id)
    evaluation = evaluate(ws, params, batch_id, checkpoint)
    version = register(ws, params, batch_id, checkpoint, evaluation)
    promoted = promote(ws, params, batch_id, version, evaluation)
    if promoted:
        commit_data(ws, params, batch_id, version)
    return promoted
