"""Served flow runs start warm: forked from a process that has already imported the batch's libraries.

Prefect's runner starts every flow run of a served flow with multiprocessing's "spawn" method: a
fresh interpreter that imports Prefect, our flows, then torch, Great Expectations, MLflow and DVC
(~6 s of a ~30 s demo batch, paid again by every scheduled run). multiprocessing's "forkserver"
keeps one process with those modules imported and forks each run from it: still one process per
run (a crash, a kill or a leak stays in that run), without the import cost. The forkserver only
imports, it starts no threads and never touches CUDA, so forking it is safe; it exits with serve.

Prefect 3.8 has no option for this: its `run_flow_in_subprocess` asks `multiprocessing` for the
"spawn" context, and `forkserver()` hands it the warm one instead (serve's process only).
`tests/flows/test_warm_runs.py` fails if a Prefect upgrade stops honouring it.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

# What a batch imports, heaviest first; MLflow's SQL stores import alembic on first use (0.6 s per
# run otherwise). Modules that fail to import are skipped by the forkserver (then imported by the
# run itself, as before).
PRELOAD = [
    "torch", "great_expectations", "mlflow", "mlflow.pyfunc", "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store", "alembic.command", "alembic.autogenerate",
    "alembic.runtime.migration", "dvc.repo", "torchmetrics", "matplotlib", "pandas",
    "flows.service", "flows.deletion_batch", "flows.batch_steps", "flows.lineage", "flows.data_commit",
    "flows.report", "flows.purge", "components.models", "components.unlearning", "components.evaluation",
    "components.registry", "components.validation",
]


@contextmanager
def forkserver() -> Iterator[None]:
    """Start the warm forkserver now (so that the first scheduled run is warm too), make Prefect's
    flow-run processes fork from it, and stop it on the way out (it would notice serve's exit on its
    own, but a moment later). Enter once PREFECT_API_URL is set: the forkserver imports Prefect
    with the environment it starts with."""
    from prefect import flow_engine

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    multiprocessing.forkserver.ensure_running()
    spawn = flow_engine.multiprocessing
    flow_engine.multiprocessing = SimpleNamespace(get_context=lambda method=None: ctx, context=multiprocessing.context)
    try:
        yield
    finally:
        flow_engine.multiprocessing = spawn
        multiprocessing.forkserver._forkserver._stop()  # closes its "alive" pipe and waits for it to exit
