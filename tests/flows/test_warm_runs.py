"""Served flow runs fork from a warm forkserver instead of spawning a fresh interpreter."""

import json
import multiprocessing
import os
import sys
from pathlib import Path

from prefect import flow, flow_engine

from flows import warm_runs


@flow(name="where-am-i")
def where_am_i(out: str) -> None:
    """Record, at the start of the run, which process runs it and what it already has imported."""
    with open(out, "w") as f:
        json.dump(
            {
                "pid": os.getpid(),
                "ppid": os.getppid(),
                "preloaded": [m for m in ("torch", "great_expectations", "mlflow", "flows.batch_steps") if m in sys.modules],
            },
            f,
        )


def test_a_flow_run_process_is_forked_from_the_preloaded_forkserver(prefect_api, tmp_path):
    out = tmp_path / "run.json"

    with warm_runs.forkserver():
        process = flow_engine.run_flow_in_subprocess(where_am_i, parameters={"out": str(out)})
        process.join(120)

    assert process.exitcode == 0
    run = json.loads(out.read_text())
    assert run["ppid"] != os.getpid(), "spawned by the caller: Prefect no longer honours the forkserver"
    assert run["preloaded"] == ["torch", "great_expectations", "mlflow", "flows.batch_steps"]
    assert flow_engine.multiprocessing is multiprocessing, "Prefect's spawn context is not restored"
    assert not Path(f"/proc/{run['ppid']}").exists(), "the forkserver outlived its context"
