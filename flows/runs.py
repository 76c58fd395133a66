"""What `forgetflow run`, `promote` and the demo run on a Prefect API: a deletion batch (its
transaction, flows/transaction.py) and, after a promotion, the follow-up flow run that retrains a
stale feature net (flows/follow_up.py).

Both run inside one `prefect_server.api` context: Prefect reads its API URL once per process, so a
second server for the follow-up would leave it talking to the first, stopped one. Prefect itself
is imported only inside that context (it reads its settings at import).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable

from flows.params import Params
from flows.workspace import Workspace

Say = Callable[[str], object]


def batch(
    ws: Workspace,
    params: Params,
    method: str | None = None,
    max_requests: int | None = None,
    say: Say = print,
    quiet: bool = False,
):
    """One deletion batch; if promoted, its follow-up. Returns the batch's outcome. `quiet` keeps
    stdout for `--json`: everything the runs print goes to stderr."""
    from flows import prefect_server

    with contextlib.redirect_stdout(sys.stderr) if quiet else contextlib.nullcontext(), prefect_server.api(ws):
        from flows import transaction

        outcome = transaction.run(ws, params, method, max_requests)
        if outcome.status == "promoted":
            _follow_up(ws, params, say)
    return outcome


def follow_up(ws: Workspace, params: Params, say: Say = print) -> None:
    """After a person's promotion: the follow-up alone, if the feature net is stale."""
    from flows import prefect_server, train_base

    if train_base.featurenet_stale(ws):
        with prefect_server.api(ws):
            _follow_up(ws, params, say)


def _follow_up(ws: Workspace, params: Params, say: Say) -> None:
    from flows import train_base

    if not train_base.featurenet_stale(ws):
        return
    say("after the batch: retraining the feature net on the remaining data (flow run refresh-featurenet)")
    from flows.follow_up import refresh_featurenet

    refresh_featurenet(ws, params)
