"""What a deletion batch costs besides unlearning, and how bookkeeping commands answer, measured
through the real CLI in fresh processes (as a user or a scheduler runs them).

    python -m benchmarks.batch_overhead -w WORKSPACE [--samples 500] [--repeats 3] [--served] [--name LABEL]
    python -m benchmarks.batch_overhead -w WORKSPACE --scheduled CLASS [--name LABEL]   # serve running
    python -m benchmarks.batch_overhead --shares results/*.json   # both shares, recomputed from the raw fields

The workspace needs a champion (`forgetflow demo`, or `prepare` + `dvc repro`). Each repeat files a
sample request for `--samples` random training images (seeded), runs one batch and reads the
steps' wall times from the ledger. By default the batch is `forgetflow run --json` (wall time:
command start to exit); with `forgetflow serve` running on the workspace, `run` uses its Prefect
server, otherwise it starts and stops one of its own. With `--served` (serve must run, with a long
`--interval` so that its own schedule does not take the request first), the batch is a run of
serve's deployment, triggered at once instead of waiting for the schedule; its wall
time is Prefect's own record, from the runner's Pending (before it starts the run's process) to
Completed. After a promotion the feature net is retrained on the remaining data by its own flow run
(flows/follow_up.py), timed in the ledger: `follow_up_s`; `batch_s` is the wall time without it.
Orchestration = `batch_s` minus unlearn and evaluate (model work); its share is given both of
`batch_s` and of the whole wall time (`shares`). Bookkeeping latencies:
`requests`, `status --json`, `trace` and `request --json` (the filing itself), best of 5 each
(warm disk cache). Prints JSON; with `--name`, also writes benchmarks/results/<date>-<name>.json.
Note: every repeat forgets real samples from the workspace (it is a deletion batch).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from components import data
from components import ledger as ledgers
from components.ledger import provenance
from flows import service_state, workspace
from flows.params import load_params

RESULTS = Path(__file__).parent / "results"
CLI = [sys.executable, "-m", "flows.cli"]
ORCHESTRATION_EXCLUDES = ("unlearn", "evaluate")


def timed(args: list[str], ws: Path) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    done = subprocess.run([*CLI, *args, "-w", str(ws)], capture_output=True, text=True, env=workspace.tool_env())
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{args}: exit {done.returncode}\n{done.stderr[-2000:]}")
    return elapsed, done


def bookkeeping(ws: Path) -> dict[str, float]:
    return {
        " ".join(args): round(min(timed(args, ws)[0] for _ in range(5)), 3)
        for args in (["requests"], ["status", "--json"], ["trace"])
    }


def file(ws: Path, *selector: str) -> tuple[float, str]:
    """`forgetflow request SELECTOR --json`: its latency and the new request's id."""
    seconds, done = timed(["request", *selector, "--json"], ws)
    filed = json.loads(done.stdout)
    if not filed.get("created") or not filed.get("request_id"):
        raise SystemExit(f"request {' '.join(selector)} was not filed as a new request: {done.stdout.strip()}")
    return seconds, filed["request_id"]


def file_request(ws: Path, n: int, seed: int) -> tuple[float, str]:
    """File a sample request for n random training images no request has claimed yet."""
    root = workspace.Workspace(ws)
    with ledgers.Ledger(root.ledger_path) as book:
        busy = set(book.open_sample_ids()) | set(book.forgotten_by())
    train = sorted(s.sample_id for s in data.read_manifest(root.data_dir) if s.split == "train" and s.sample_id not in busy)
    ids = random.Random(seed).sample(train, n)
    ids_file = ws / ".forgetflow" / f"bench-{seed}.txt"
    ids_file.write_text("\n".join(ids) + "\n")
    return file(ws, "--samples-file", str(ids_file))


def one_batch(ws: Path, n: int, seed: int, served: service_state.ServeState | None) -> dict:
    request_s, request_id = file_request(ws, n, seed)
    root = workspace.Workspace(ws)
    with ledgers.Ledger(root.ledger_path) as book:
        seen = len(book.events())
    wall = served_run(served) if served else timed(["run", "--json"], ws)[0]
    with ledgers.Ledger(root.ledger_path) as book:
        batch_id = book.request(request_id).batch_id
        if batch_id is None:
            raise SystemExit(f"{request_id} was not batched by that run (policy: see `forgetflow status`)")
        batch = book.batch(batch_id)
        follow_up = [e["detail"] for e in book.events()[seen:] if e["event"] == "refreshed"]
    steps = batch.details.get("timings", {})
    after = batch.details.get("after_promotion_timings", {})
    follow_up_s = sum(e["seconds"] for e in follow_up)
    row = {
        "batch_id": batch.id,
        "status": batch.status,
        "request_s": round(request_s, 3),
        "wall_s": round(wall, 2),
        "follow_up_s": round(follow_up_s, 2),
        "batch_s": round(wall - follow_up_s, 2),
        "steps_s": steps,
        "after_promotion_s": after,
        "orchestration_s": round(wall - follow_up_s - sum(steps.get(k, 0.0) for k in ORCHESTRATION_EXCLUDES), 2),
    }
    return {**row, **shares(row)}


def shares(row: dict) -> dict[str, float]:
    """Orchestration as a share of the batch (`orchestration_share`: model work after a promotion,
    the feature net's retraining, out of numerator and denominator) and of the whole wall time with
    that retraining in it (`orchestration_share_of_wall`). Older rows timed the retraining inside
    the batch (`after_promotion_s.featurenet`); newer ones as the follow-up flow run (`follow_up_s`)."""
    model_work = row.get("follow_up_s") or row.get("after_promotion_s", {}).get("featurenet", 0.0)
    return {
        "orchestration_share": round(row["orchestration_s"] / (row["wall_s"] - model_work), 3),
        "orchestration_share_of_wall": round(row["orchestration_s"] / row["wall_s"], 3),
    }


def served_run(served: service_state.ServeState) -> float:
    """Trigger serve's deployment now, wait for the run, and return its Pending-to-Completed time."""
    os.environ["PREFECT_API_URL"] = served.api_url  # before Prefect is imported: it reads settings then
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    run = run_deployment(served.deployment, timeout=None, poll_interval=1)
    if not run.state.is_completed():
        raise SystemExit(f"flow run {run.name} ended {run.state.name}: {run.state.message}")
    with get_client(sync_client=True) as client:
        states = client.read_flow_run_states(run.id)
    pending = next(s.timestamp for s in states if s.type.value == "PENDING")
    return (run.state.timestamp - pending).total_seconds()


def scheduled(ws: Path, label: str, timeout: float = 900.0) -> dict:
    """File a class request while `serve` runs on its schedule; seconds from filing until a batch
    claims it, until the champion alias moves (the ledger's mirror of the registry) and until the
    batch is finished in the ledger. The clock starts with the `forgetflow request` command."""
    root = workspace.Workspace(ws)
    model = load_params(root.params_file).registry.model_name
    with ledgers.Ledger(root.ledger_path) as book:
        champion = provenance.model_aliases(book, model).get("champion")
    start = time.perf_counter()
    _, request_id = file(ws, "--label", label)
    marks: dict[str, float] = {}
    batch_id, batch = None, None
    while time.perf_counter() - start < timeout and "finished_s" not in marks:
        with ledgers.Ledger(root.ledger_path) as book:
            batch_id = batch_id or book.request(request_id).batch_id  # a failed batch releases it: keep the first
            moved = provenance.model_aliases(book, model).get("champion") != champion
            batch = book.batch(batch_id) if batch_id else None
        elapsed = round(time.perf_counter() - start, 1)
        if batch:
            marks.setdefault("claimed_s", elapsed)
        if moved:
            marks.setdefault("champion_moved_s", elapsed)
        if batch and batch.status != "running":
            marks["finished_s"] = elapsed
        time.sleep(0.5)
    return {
        "request_id": request_id,
        "label": label,
        "batch_id": batch_id,
        "status": batch.status if batch else "not claimed",
        **marks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-w", "--workspace", type=Path, default=None)
    parser.add_argument(
        "--shares",
        type=Path,
        nargs="+",
        metavar="JSON",
        help="instead: both orchestration shares of each batch in these results files (from their raw fields)",
    )
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--served", action="store_true", help="run each batch as a run of serve's deployment")
    parser.add_argument(
        "--scheduled",
        metavar="LABEL",
        help="instead: file a request for this class and time it "
        "through serve's schedule (filed -> claimed -> champion moved -> finished)",
    )
    parser.add_argument("--name", default=None)
    args = parser.parse_args()
    if args.shares:
        for path in args.shares:
            for row in json.loads(path.read_text()).get("batches", []):
                print(f"{path.name} {row['batch_id']} {row['status']}: {json.dumps(shares(row))}")
        return
    if args.workspace is None:
        parser.error("-w/--workspace is required (except with --shares)")
    ws = args.workspace.resolve()
    served = service_state.read(workspace.Workspace(ws))
    if (args.served or args.scheduled) and not served:
        raise SystemExit("--served/--scheduled: start `forgetflow serve` on the workspace first")
    if args.scheduled:
        return report(
            {
                "workspace": str(ws),
                "schedule_interval_s": served.interval_s,
                "cron": served.cron,
                **scheduled(ws, args.scheduled),
            },
            args.name,
        )
    batches = [one_batch(ws, args.samples, seed, served if args.served else None) for seed in range(args.repeats)]
    share = [b["orchestration_share"] for b in batches]
    how = "serve's deployment (warm flow-run process)" if args.served else "run, serve's server" if served else "run, own server"
    result = {
        "workspace": str(ws),
        "prefect": how,
        "samples_per_batch": args.samples,
        "batches": batches,
        "orchestration_share_mean": round(statistics.mean(share), 3),
        "orchestration_share_range": [min(share), max(share)],
        "bookkeeping_best_of_5_s": bookkeeping(ws),
    }
    report(result, args.name)


def report(result: dict, name: str | None) -> None:
    print(json.dumps(result, indent=1))
    if name:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"{date.today()}-{name}.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
