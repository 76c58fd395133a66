"""A bounded soak: `forgetflow serve` on a short interval over a tiny workspace, fed random valid and
invalid requests through the real CLI until `--batches` batches have finished (or `--minutes` pass).

    python -m benchmarks.soak [--batches 50] [--interval 6] [--minutes 45] [--name soak]

After every finished batch, with the workspace's batch lock held (so no batch is in flight), the
invariant checker (flows/invariants.py) runs and serve's resident memory and open file handles
(serve and every process under it) are read from /proc. Every invalid request must exit 2 and
write nothing; a repeated one must queue nothing new. The tiny workspace is the tests' (a
synthetic 10-class IDX source, 20 training images per class, a 1-layer MAE) with every gate
margin open: this measures the operations, not forgetting. Prints JSON; with `--name`, writes
benchmarks/results/<date>-<name>.json.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from components import data
from components import ledger as ledgers
from flows import invariants, workspace
from flows.params import load_params
from flows.transaction import batch_lock

RESULTS = Path(__file__).parent / "results"
CLI = [sys.executable, "-m", "flows.cli"]
INVALID = [
    ["--sample", "../../etc/passwd"],
    ["--sample", "fm-train-999999"],
    ["--subject", "subj-999999"],
    ["--label", "Spaceship"],
    ["--sample", "a/b"],
    ["--sample", "x" * 300],
]


def make_workspace(root: Path) -> Path:
    from tests.conftest import TINY_PARAMS, write_idx_source, write_params
    from tests.flows.conftest import MECHANICS_UNLEARN, PASSING_GATES, train_workspace

    source = write_idx_source(root / "source", train_per_class=20, test_per_class=4)
    ws = root / "ws"
    workspace.init(ws)
    write_params(
        ws,
        {
            **TINY_PARAMS,
            "data": {**TINY_PARAMS["data"], "source": str(source)},
            "unlearn": MECHANICS_UNLEARN,
            "evaluate": {"min_fid_samples": 5},
            "batch": {"max_forget_fraction": 0.5},
            "gates": PASSING_GATES,
            "schedule": {"min_batch_size": 1, "max_wait_days": 0.0},
        },
    )
    train_workspace(ws)
    return ws


def tree(pid: int) -> list[int]:
    """pid and every process under it."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def footprint(pid: int, whole_tree: bool = True) -> tuple[float, int, int]:
    """(RSS MiB, open file handles, processes) of serve's process tree (or of serve alone)."""
    rss, fds, n = 0.0, 0, 0
    for p in tree(pid) if whole_tree else [pid]:
        try:
            status = Path(f"/proc/{p}/status").read_text()
            rss += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))) / 1024
            fds += len(list(Path(f"/proc/{p}/fd").iterdir()))
            n += 1
        except (OSError, StopIteration):
            continue
    return round(rss, 1), fds, n


def cli(ws: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args, "-w", str(ws)], capture_output=True, text=True, env=workspace.tool_env(), timeout=300)


def file_random(ws: Path, rng: random.Random, book_path: Path) -> dict[str, int]:
    """One valid request (a sample or a subject still in data/), one invalid, one repeat."""
    counts = {"valid": 0, "invalid_refused": 0, "invalid_accepted": 0, "repeat_queued_nothing": 0, "repeat_queued": 0}
    train = [s for s in data.read_manifest(ws / "data") if s.split == "train"]
    pick = rng.choice(train)
    valid = ["--sample", pick.sample_id] if rng.random() < 0.7 else ["--subject", pick.subject_id]
    with ledgers.Ledger(book_path) as book:
        before = len(book.requests())
    done = cli(ws, "request", *valid, "--reason", "soak")
    counts["valid"] += done.returncode == 0
    bad = cli(ws, "request", *rng.choice(INVALID))
    repeat = cli(ws, "request", *valid, "--reason", "soak")
    with ledgers.Ledger(book_path) as book:
        after = len(book.requests())
    counts["invalid_refused" if bad.returncode == 2 else "invalid_accepted"] += 1
    counts["repeat_queued_nothing" if after == before + 1 and repeat.returncode == 0 else "repeat_queued"] += 1
    return counts


def finished(book_path: Path) -> tuple[int, bool]:
    with ledgers.Ledger(book_path) as book:
        batches = book.batches()
        waiting = bool(book.requests("pending")) or any(b.status == "running" for b in batches)
    return len(batches), waiting


def soak(batches: int, interval: float, minutes: float, seed: int) -> dict:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        ws_root = make_workspace(Path(tmp))
        ws = workspace.resolve(ws_root)
        params = load_params(ws.params_file)
        serve = subprocess.Popen(
            [*CLI, "serve", "-w", str(ws_root), "--interval", str(interval)],
            env=workspace.tool_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        rows, totals, start = [], {}, time.monotonic()
        try:
            while len(rows) < batches and time.monotonic() - start < minutes * 60:
                seen = finished(ws.ledger_path)[0]  # before filing: serve may finish the batch before we look again
                for key, value in file_random(ws_root, rng, ws.ledger_path).items():
                    totals[key] = totals.get(key, 0) + value
                while time.monotonic() - start < minutes * 60:
                    count, waiting = finished(ws.ledger_path)
                    if count > seen and not waiting:
                        break
                    time.sleep(1)
                with batch_lock(ws, wait=600):  # no batch in flight while the state is read
                    problems = invariants.check(ws, params)
                    with ledgers.Ledger(ws.ledger_path) as book:
                        last = book.batches()[-1]
                rss, fds, procs = footprint(serve.pid)
                own_rss, own_fds, _ = footprint(serve.pid, whole_tree=False)
                rows.append(
                    {
                        "batch": last.id,
                        "status": last.status,
                        "seconds": round(time.monotonic() - start, 1),
                        "violations": problems,
                        "serve_rss_mib": own_rss,
                        "serve_open_files": own_fds,
                        "tree_rss_mib": rss,
                        "tree_open_files": fds,
                        "processes": procs,
                        "why": None if last.status == "promoted" else last.error or _verdicts(ws, last.id),
                    }
                )
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        finally:
            family = tree(serve.pid)
            serve.send_signal(signal.SIGINT)
            try:
                serve.wait(timeout=120)
            except subprocess.TimeoutExpired:
                serve.kill()
            time.sleep(2)
        left = [p for p in family if Path(f"/proc/{p}").exists()]
    return {
        "batches": len(rows),
        "interval_s": interval,
        "seed": seed,
        "minutes": round((time.monotonic() - start) / 60, 1),
        "requests": totals,
        "statuses": {s: sum(r["status"] == s for r in rows) for s in {r["status"] for r in rows}},
        "batches_with_violations": sum(bool(r["violations"]) for r in rows),
        "processes_left_after_stop": len(left),
        **{
            key: _trend([r[key] for r in rows])
            for key in ("serve_rss_mib", "serve_open_files", "tree_rss_mib", "tree_open_files")
        },
        "rows": rows,
    }


def _verdicts(ws: workspace.Workspace, batch_id: str) -> str:
    evaluation = ws.batch_dir(batch_id) / "evaluation.json"
    if not evaluation.is_file():
        return "no evaluation recorded"
    return "; ".join(f"{g['name']}: {g.get('verdict', g.get('passed'))}" for g in json.loads(evaluation.read_text())["gates"])


def _trend(values: list[float]) -> dict:
    """First, last, max, and the Theil-Sen slope per batch (median of pairwise slopes: one process
    caught between runs does not swing it) with its 95% interval, over the second half (after warm-up)."""
    from scipy.stats import theilslopes

    if len(values) < 4:
        return {}
    half = values[len(values) // 2 :]
    slope, _, low, high = theilslopes(half)
    return {
        "first": values[0],
        "last": values[-1],
        "max": max(values),
        "slope_per_batch_second_half": [round(float(v), 3) for v in (slope, low, high)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--interval", type=float, default=6.0)
    parser.add_argument("--minutes", type=float, default=45.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name")
    args = parser.parse_args()
    started = date.today().isoformat()
    result = {"date": started, **soak(args.batches, args.interval, args.minutes, args.seed)}
    text = json.dumps(result, indent=1)
    print(text)
    if args.name:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"{started}-{args.name}.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
