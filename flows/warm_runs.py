"""Served flow runs start warm: forked from a process that has already imported the batch's libraries.

Prefect's runner starts every flow run of a served flow with multiprocessing's "spawn" method: a
fresh interpreter that imports Prefect, our flows, then torch, Great Expectations, MLflow and DVC
(~6 s of a ~30 s demo batch, paid again by every scheduled run). multiprocessing's "forkserver"
keeps one process with those modules imported and forks each run from it: still one process per
run (a crash, a kill or a leak stays in that run), without the import cost. The forkserver only
imports (`flows/warm_imports.py`): torch's intra-op pool and CUDA are never initialised there; the
few native threads the imports start (OpenBLAS, pyarrow's jemalloc) are fork-aware libraries.

The catch: runs fork from the code as it was when serve started (restart serve after an upgrade),
and they are children of the forkserver, so a service manager must stop serve's main process
only (systemd `KillMode=mixed`): a SIGTERM to every process kills the forkserver too, and Prefect
then takes a run that is still rolling back for finished.

Prefect 3.8 has no option for this: its `run_flow_in_subprocess` asks `multiprocessing` for the
"spawn" context, and `forkserver()` hands it the warm one instead (serve's process only).
`tests/flows/test_warm_runs.py` fails if a Prefect upgrade stops honouring it.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.forkserver
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

log = logging.getLogger(__name__)


@contextmanager
def forkserver() -> Iterator[None]:
    """Start the warm forkserver now (so that the first scheduled run is warm too), make Prefect's
    flow-run processes fork from it, and stop it on the way out (once its runs have exited: they
    hold its "alive" pipe). Enter once PREFECT_API_URL is set: the forkserver imports Prefect with
    the environment it starts with."""
    from prefect import flow_engine

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["flows.warm_imports"])
    multiprocessing.forkserver.ensure_running()
    spawn = flow_engine.multiprocessing
    flow_engine.multiprocessing = SimpleNamespace(get_context=lambda method=None: ctx, context=multiprocessing.context)
    try:
        yield
    finally:
        flow_engine.multiprocessing = spawn
        try:  # a private helper (Python's own tests use it): closes the "alive" pipe, waits for the exit
            multiprocessing.forkserver._forkserver._stop()
        except OSError as exc:  # already reaped, or its socket cleaned up: it is gone either way
            log.warning("forkserver stop: %s", exc)
