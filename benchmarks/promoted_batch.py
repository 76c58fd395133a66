"""A promoted batch's wall time on one workspace, the way `make demo` files requests (a class, a
subject, two samples), through the real CLI in a fresh process; and `contains` at that scale.

    python -m benchmarks.promoted_batch -w WORKSPACE --label 8 [--seed 1] [--contains]

The workspace needs a champion, and gates that let the batch promote (the timing is of the
promotion path: set the margins wide in its params.yaml and say so). `wall_s` is `forgetflow run
--json` from start to exit; after a promotion it also runs the follow-up flow run that retrains a
stale feature net (flows/follow_up.py), timed in the ledger (`follow_up_s`), and `batch_s` is the
wall time without it: the batch, its after-promotion work (aliases, purge, push) and the command's
own start-up and Prefect server. With `--contains`, `forgetflow contains --label/--subject/--sample
... --json`, each best of 3. Prints one JSON line (benchmarks/results/ keeps them).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from components import data
from components import ledger as ledgers
from flows import workspace

CLI = [sys.executable, "-m", "flows.cli"]


def file_requests(ws: workspace.Workspace, label: str, seed: int) -> dict[str, list[str]]:
    manifest = data.read_manifest(ws.data_dir)
    with ledgers.Ledger(ws.ledger_path) as book:
        gone = set(book.forgotten_by()) | set(book.open_sample_ids())
        train = [s for s in manifest if s.split == "train" and s.sample_id not in gone and str(s.label) != label]
        selectors = {
            "label": [label],
            "subject": [train[(seed * 7919) % len(train)].subject_id],
            "sample": [train[(seed * 104729 + k) % len(train)].sample_id for k in (1, 2)],
        }
        for kind, selector in selectors.items():
            ledgers.file_request(book, manifest, kind, selector, "benchmarks/promoted_batch.py")
    return selectors


def timed_run(ws: workspace.Workspace) -> dict:
    start = time.perf_counter()
    done = subprocess.run([*CLI, "-w", str(ws.root), "run", "--json"], capture_output=True, text=True, env=workspace.tool_env())
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"run failed ({done.returncode}): {done.stderr[-2000:]}")
    with ledgers.Ledger(ws.ledger_path) as book:
        batch = book.batch(json.loads(done.stdout)["batch_id"])
        follow_up = sum(
            e["detail"]["seconds"] for e in book.events() if e["event"] == "refreshed" and e["at"] >= batch.created_at
        )
    return {
        "batch_id": batch.id,
        "status": batch.status,
        "n_forget": batch.details.get("unlearn", {}).get("n_forget"),
        "wall_s": round(wall, 2),
        "follow_up_s": follow_up,
        "batch_s": round(wall - follow_up, 2),
        "steps_s": batch.details.get("timings"),
        "after_promotion_s": batch.details.get("after_promotion_timings"),
    }


def contains_s(ws: workspace.Workspace, selectors: dict[str, list[str]]) -> dict[str, float]:
    best = {}
    for kind, selector in selectors.items():
        args = [f"--{kind}" if kind != "sample" else "--sample", selector[0]]
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run([*CLI, "-w", str(ws.root), "contains", *args, "--json"], capture_output=True, env=workspace.tool_env())
            runs.append(time.perf_counter() - start)
        best[kind] = round(min(runs), 2)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-w", "--workspace", type=Path, required=True)
    parser.add_argument("--label", required=True, help="the class to forget (index or name)")
    parser.add_argument("--seed", type=int, default=1, help="picks the subject and the two samples")
    parser.add_argument("--contains", action="store_true")
    args = parser.parse_args()
    ws = workspace.resolve(args.workspace)
    selectors = file_requests(ws, args.label, args.seed)
    row = {"workspace": str(ws.root), "requests": selectors, **timed_run(ws)}
    if args.contains:
        row["contains_best_of_3_s"] = contains_s(ws, selectors)
    print(json.dumps(row))


if __name__ == "__main__":
    main()
