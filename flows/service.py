"""Recurring deletion batches: the batch flow served as a scheduled Prefect deployment.

Each scheduled run asks the policy (components/ledger/policy.py) whether a batch is due; if not,
it logs why and ends in a second. Overdue requests are logged as errors on every run. A batch
holds a Prefect global concurrency slot (one per workspace) on top of the workspace lock, so two
runs triggered together, from one serve or from workers on several machines, never both start a
batch: the second waits for the slot, then finds nothing left to do.

Import this module only once PREFECT_API_URL is set (flows/prefect_server.py): Prefect reads its
settings at import.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.concurrency.sync import concurrency

from components import ledger as ledgers
from components.errors import ForgetflowError
from components.ledger import policy
from flows import service_state, transaction, warm_runs
from flows import workspace as workspaces
from flows.params import load_params
from flows.workspace import Workspace

FLOW_NAME = "scheduled-deletion-batch"
log = logging.getLogger(__name__)


@flow(name=FLOW_NAME, log_prints=False)
def scheduled_batch(root: str = "") -> str:
    """One scheduled look at the queue of workspace `root` ("": $FORGETFLOW_WORKSPACE, else the
    working directory): run a batch if the policy says so. Returns the outcome ("idle" when there
    was nothing to do); a failed batch fails the run, after its rollback."""
    from flows.transaction import run as run_batch

    ws = workspaces.resolve(Path(root) if root else None)
    params = load_params(ws.params_file)
    logger = get_run_logger()
    with ledgers.Ledger(ws.ledger_path) as book:
        decision = policy.decide(book.requests(), params.schedule)
    for r in decision.overdue:
        logger.error("OVERDUE: %s (%s, %d samples, %s) was due %s", r.id, r.kind, len(r.sample_ids), r.status, r.due_at)
    if not decision.run:
        logger.info(decision.reason)
        return "idle"
    logger.info("starting a deletion batch: %s", decision.reason)
    with one_batch_at_a_time(ws):  # the follow-up too: it holds the batch lock, a concurrent run would be refused
        outcome = run_batch(ws, params)
        if outcome.status == "promoted":
            from flows.follow_up import refresh_featurenet

            refresh_featurenet(ws, params)
    if outcome.status == "failed":
        raise ForgetflowError(f"{outcome.batch_id} failed and was rolled back: {outcome.error}")
    logger.info(
        "%s: %s%s",
        outcome.batch_id or "no batch",
        outcome.status,
        f", model v{outcome.model_version}" if outcome.model_version else "",
    )
    return outcome.status


def concurrency_limit_name(ws: Workspace) -> str:
    return f"forgetflow-batch-{hashlib.sha256(str(ws.root).encode()).hexdigest()[:12]}"


@contextmanager
def one_batch_at_a_time(ws: Workspace) -> Iterator[None]:
    """A global concurrency slot of limit 1 for this workspace, created on first use."""
    from prefect.client.orchestration import get_client

    name = concurrency_limit_name(ws)
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(name, 1)
    with concurrency(name, occupy=1, strict=True):
        yield


def deployment_name(ws: Workspace) -> str:
    """One deployment per workspace; readable, and unique among workspaces sharing a server."""
    return f"{ws.root.name}-{hashlib.sha256(str(ws.root).encode()).hexdigest()[:8]}"


def serve(ws: Workspace, api_url: str, cron: str | None, interval: float | None) -> None:
    """Serve `scheduled_batch` every `interval` seconds, else on `cron`, until SIGINT/SIGTERM (one
    serve per workspace: the caller holds the serve lock). Stopping lets a running batch finish; a
    Ctrl-C that also reaches the batch's process (a terminal's process group) interrupts it and
    `settle` rolls it back."""
    import asyncio

    from prefect.deployments.runner import EntrypointType
    from prefect.runner import Runner
    from prefect.schedules import Cron, Interval

    started = datetime.now(UTC).replace(microsecond=0)
    schedule = Interval(interval, anchor_date=started, timezone="UTC") if interval else Cron(cron, timezone="UTC")
    name = deployment_name(ws)
    runner = Runner(name=name, pause_on_shutdown=True, limit=1)
    # Prefect's own SIGTERM handler calls an async stop without awaiting it and can hang (3.8.8);
    # a SIGTERM takes the Ctrl-C path instead: stop polling, let the running batch finish, exit.
    runner.handle_sigterm = lambda *_: signal.raise_signal(signal.SIGINT)
    runner.add_flow(
        scheduled_batch,
        name=name,
        schedules=[schedule],
        parameters={"root": str(ws.root)},
        entrypoint_type=EntrypointType.MODULE_PATH,
        tags=["forgetflow"],
        description=f"forgetflow deletion batches for {ws.root}",
    )
    service_state.write(
        ws, service_state.ServeState(os.getpid(), started.isoformat(), cron, interval, api_url, f"{FLOW_NAME}/{name}")
    )
    try:
        with warm_runs.forkserver():
            asyncio.run(runner.start())
    except KeyboardInterrupt:
        log.info("stopping: no new runs; a running batch finishes first")
    finally:
        service_state.clear(ws)
        settled = settle(ws)
        if settled:
            log.warning("%s", settled)


def settle(ws: Workspace) -> str | None:
    """After the runner stopped (its flow-run process is cancelled): roll back or finish the batch
    it was running, once that process has let go of the workspace lock."""
    try:
        return transaction.recover(ws, load_params(ws.params_file), "serve stopped")
    except transaction.BatchBusyError as exc:
        raise ForgetflowError(f"{exc}; the next `forgetflow run` or scheduled run will resume or roll it back") from None
