"""What `forgetflow serve` tells the rest of the workspace: that it runs, on which schedule, where.

A small JSON file in the workspace's state directory, written when serving starts and removed when
it stops, so `status` can say when the next scheduled run looks without asking Prefect.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flows.workspace import Workspace


@dataclass(frozen=True)
class ServeState:
    pid: int
    started_at: str  # also the interval schedule's anchor, so the next run is computable here
    cron: str | None
    interval_s: float | None
    api_url: str
    deployment: str

    def next_run(self, at: datetime) -> datetime:
        if self.cron:
            from cronsim import CronSim

            return next(CronSim(self.cron, at.replace(tzinfo=None))).replace(tzinfo=at.tzinfo)
        anchor = datetime.fromisoformat(self.started_at)
        periods = int((at - anchor).total_seconds() // self.interval_s) + 1
        return anchor + timedelta(seconds=periods * self.interval_s)


def path(ws: Workspace) -> Path:
    return ws.state_dir / "serve.json"


def write(ws: Workspace, state: ServeState) -> None:
    ws.state_dir.mkdir(parents=True, exist_ok=True)
    tmp = path(ws).with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=1))
    tmp.replace(path(ws))


def clear(ws: Workspace) -> None:
    path(ws).unlink(missing_ok=True)


def read(ws: Workspace) -> ServeState | None:
    """The running server's state; None if none runs (a file left by a killed serve is ignored)."""
    try:
        state = ServeState(**json.loads(path(ws).read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return state if _alive(state.pid) else None


def describe(ws: Workspace, at: datetime) -> dict[str, Any]:
    state = read(ws)
    if state is None:
        return {"serving": False}
    return {
        "serving": True,
        "pid": state.pid,
        "cron": state.cron,
        "interval_s": state.interval_s,
        "api_url": state.api_url,
        "deployment": state.deployment,
        "next_run": state.next_run(at).isoformat(timespec="seconds"),
    }


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True
