"""How unlearning and retraining costs grow with the data: one full oracle epoch at |D| = 5k, 10k,
20k, 60k training images, and `encoder-noise` at |D_F| = 50 / 500 / 5,000 (and at every |D| with
|D_F| = 500). Unlearning runs its whole step budget here (early stopping off): the worst case.

    python -m benchmarks.cost_scaling [-w WORKSPACE] [--sizes 5000 10000 20000 60000]

Reads the raw dataset named by the workspace's `data.source` (default: Debian's Fashion-MNIST), so
no 60k-image workspace is needed; images are in memory before anything is timed. Writes
benchmarks/results/<date>-<host>-cost.json and .md.
"""

from __future__ import annotations

import argparse
import json
import socket
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import torch

from components.data.loading import to_tensor
from components.data.sources import load_source
from components.device import pick_device, seed_everything
from components.models.recipes import train_inpainter
from components.unlearning.methods import unlearn
from flows import workspace
from flows.params import load_params
from flows.train_base import FAMILIES

RESULTS = Path(__file__).parent / "results"
FORGET_SIZES = (50, 500, 5000)
NO_EARLY_STOP = {"stop_gap": 0.0, "stop_plateau": -1e9, "max_retain_drop_pct": 1e9}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-w", "--workspace", type=Path, default=None)
    parser.add_argument("--sizes", nargs="+", type=int, default=[5000, 10000, 20000, 60000])
    args = parser.parse_args()
    ws = workspace.resolve(args.workspace)
    params = load_params(ws.params_file)
    raw = load_source(Path(params.data.source) if params.data.source else None)
    images = to_tensor(raw.images["train"])
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    device = pick_device()
    rows = {"oracle_epoch": [], "unlearn_by_data": [], "unlearn_by_forget": []}
    cfg = replace(params.unlearn, **NO_EARLY_STOP)

    def unlearning(n_data: int, n_forget: int) -> dict:
        pool = images[order[:n_data]]
        forget, retain = pool[:n_forget], pool[n_forget : n_forget + cfg.retain_samples]
        seed_everything(0)
        model = FAMILIES["mae"].build(params)
        start = time.perf_counter()
        result = unlearn(model, forget, retain, cfg, device)
        return {"n_data": n_data, "n_forget": n_forget, "seconds": time.perf_counter() - start, "steps": result.fit.steps}

    for n in args.sizes:
        seed_everything(0)
        model = FAMILIES["mae"].build(params)
        result = train_inpainter(
            model,
            images[order[:n]],
            replace(params.train, epochs=1),
            device,
            torch.Generator().manual_seed(0),
            desc=f"oracle epoch {n}",
        )
        rows["oracle_epoch"].append({"n_data": n, "seconds": result.seconds, "steps": result.steps})
        rows["unlearn_by_data"].append(unlearning(n, 500))
        print(rows["oracle_epoch"][-1], rows["unlearn_by_data"][-1], flush=True)
    for k in FORGET_SIZES:
        rows["unlearn_by_forget"].append(unlearning(max(args.sizes), k))
        print(rows["unlearn_by_forget"][-1], flush=True)
    stamp = f"{date.today().isoformat()}-{socket.gethostname()}-cost"
    results = {
        "date": date.today().isoformat(),
        "host": socket.gethostname(),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "train_epochs": params.train.epochs,
        **rows,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stamp}.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / f"{stamp}.md").write_text(markdown(results))
    print(markdown(results))


def markdown(r: dict) -> str:
    lines = [
        f"# Cost scaling — {r['date']} on {r['host']} ({r['device']}, {r['threads']} threads)",
        "",
        "| training images | oracle: one epoch, s (measured) | oracle: x{e} epochs, s (one epoch x {e}) | unlearn, 500 forget images: steps | unlearn s |".format(
            e=r["train_epochs"]
        ),
        "|---|---|---|---|---|",
    ]
    for o, u in zip(r["oracle_epoch"], r["unlearn_by_data"], strict=True):
        lines.append(
            f"| {o['n_data']} | {o['seconds']:.1f} | {o['seconds'] * r['train_epochs']:.0f} | {u['steps']} | {u['seconds']:.1f} |"
        )
    lines += ["", "| forget images | unlearn steps (budget) | unlearn s |", "|---|---|---|"]
    lines += [f"| {u['n_forget']} | {u['steps']} | {u['seconds']:.1f} |" for u in r["unlearn_by_forget"]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
