"""What follows a promoted batch, after its transaction: the feature net (the metrics' classifier,
never served) was trained on data some of which is now forgotten, so it is retrained on what
remains, and the purge after that collects its old weights.

It runs as its own Prefect flow run right after the batch (`forgetflow run`, `promote`, each of
`serve`'s runs), so a batch's wall time does not carry a retraining that grows with the data kept
(340 s at 70k images before). Until it has run, `contains` shows the old feature net as still
holding the samples. `evaluate` runs the same refresh before measuring anything, so no metric ever
comes from a stale net even if this never ran (a crash in between).
"""

from __future__ import annotations

import logging
import time

from prefect import flow

from components import ledger as ledgers
from flows import train_base
from flows.params import Params
from flows.workspace import Workspace

log = logging.getLogger(__name__)


@flow(name="refresh-featurenet", log_prints=False, validate_parameters=False)
def refresh_featurenet(ws: Workspace, params: Params, wait: float = 600.0) -> bool:
    """Retrain the feature net if it holds forgotten data; then purge and push (`batch.purge: auto`).
    Holds the batch lock (it retrains, runs `dvc commit` and `dvc gc`). Returns True when it retrained."""
    from flows import dvc_repo
    from flows.compliance import purge
    from flows.transaction import batch_lock

    start = time.perf_counter()
    with batch_lock(ws, wait):
        if not train_base.refresh_featurenet(ws):
            return False
        retrained = round(time.perf_counter() - start, 2)
        if params.batch.purge == "auto":
            log.info(purge.purge(ws, params).summary())
            dvc_repo.push(ws)
    with ledgers.Ledger(ws.ledger_path) as book:  # its cost, apart from any batch's (benchmarks/batch_overhead.py)
        book.event(
            "featurenet", "models/featurenet.pt", "refreshed", retrain_s=retrained, seconds=round(time.perf_counter() - start, 2)
        )
    return True
