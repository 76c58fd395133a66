"""What a deletion batch costs besides unlearning, and how bookkeeping commands answer, measured
through the real CLI in fresh processes (as a user or a scheduler runs them).

    python -m benchmarks.batch_overhead -w WORKSPACE [--samples 500] [--repeats 3] [--name LABEL]

The workspace needs a champion (`forgetflow demo`, or `prepare` + `dvc repro`). Each repeat files a
sample request for `--samples` random training images (seeded), then runs `forgetflow run --json`
and reads the steps' wall times from the ledger. With `forgetflow serve` running on the workspace,
`run` uses its Prefect server; otherwise it starts and stops one of its own: run once each way to
compare. Orchestration = the batch's wall time minus unlearn and evaluate. Bookkeeping latencies:
`requests`, `status --json`, `trace` and `request --json` (the filing itself), best of 5 each
(warm disk cache). Prints JSON; with `--name`, also writes benchmarks/results/<date>-<name>.json.
Note: every repeat forgets real samples from the workspace (it is a deletion batch).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from components import data, ledger as ledgers
from flows import service_state, workspace

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
    return {" ".join(args): round(min(timed(args, ws)[0] for _ in range(5)), 3)
            for args in (["requests"], ["status", "--json"], ["trace"])}


def one_batch(ws: Path, n: int, seed: int) -> dict:
    root = workspace.Workspace(ws)
    with ledgers.Ledger(root.ledger_path) as book:
        busy = set(book.open_sample_ids()) | set(book.forgotten_by())
    train = sorted(s.sample_id for s in data.read_manifest(root.data_dir) if s.split == "train" and s.sample_id not in busy)
    ids = random.Random(seed).sample(train, n)
    ids_file = ws / ".forgetflow" / f"bench-{seed}.txt"
    ids_file.write_text("\n".join(ids) + "\n")
    request_s, _ = timed(["request", "--samples-file", str(ids_file), "--json"], ws)
    wall, done = timed(["run", "--json"], ws)
    outcome = json.loads(done.stdout)
    with ledgers.Ledger(root.ledger_path) as book:
        steps = book.batch(outcome["batch_id"]).details.get("timings", {})
    core = sum(steps.get(k, 0.0) for k in ORCHESTRATION_EXCLUDES)
    return {"batch_id": outcome["batch_id"], "status": outcome["status"], "request_s": round(request_s, 3),
            "wall_s": round(wall, 2), "steps_s": steps, "orchestration_s": round(wall - core, 2),
            "orchestration_share": round((wall - core) / wall, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-w", "--workspace", type=Path, required=True)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--name", default=None)
    args = parser.parse_args()
    ws = args.workspace.resolve()
    served = service_state.read(workspace.Workspace(ws))
    batches = [one_batch(ws, args.samples, seed) for seed in range(args.repeats)]
    shares = [b["orchestration_share"] for b in batches]
    result = {"workspace": str(ws), "prefect": "serve's server" if served else "own server per run",
              "samples_per_batch": args.samples, "batches": batches,
              "orchestration_share_mean": round(statistics.mean(shares), 3),
              "orchestration_share_range": [min(shares), max(shares)], "bookkeeping_best_of_5_s": bookkeeping(ws)}
    print(json.dumps(result, indent=1))
    if args.name:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"{date.today()}-{args.name}.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
