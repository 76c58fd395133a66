"""Base-recipe ablation for the MAE: one change per run, test masked PSNR on the centre hole.

    python -m benchmarks.base_ablation -w WORKSPACE --tag NAME [--epochs 16] [--mae '{"pos_embed": "learned"}']
        [--train '{"batch_size": 32, "lr": 0.001}'] [--stem 32]

Trains the workspace's recipe (params.yaml `mae:` and `train:`, overridden by the JSON given) on its
train split, single-threaded, and appends {tag, overrides, seconds, epoch losses, mean PSNR and its
95% interval and standard error over test images, the three baselines} to benchmarks/results/base-ablation.jsonl.
`--stem W` swaps the patch embedding for a 3-layer conv stem of width W (tried, not adopted, so it
is not a model option). One seed per variant: it decides what the real benchmark runs with; it is
not a result on its own.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, replace
from datetime import date
from pathlib import Path

import torch
from torch import nn

from components.device import pick_device, seed_everything
from components.evaluation import baselines
from components.evaluation.forgetting import per_image_psnr
from components.evaluation.stats import mean_ci
from components.models.mae import MaskedAutoencoder
from components.models.masking import make_mask
from components.models.recipes import train_inpainter
from flows import workspace
from flows.params import load_params
from flows.train_base import load_split

RESULTS = Path(__file__).parent / "results" / "base-ablation.jsonl"


def conv_stem(width: int, dim: int, patch: int) -> nn.Module:
    """Early convolutions before patchifying (Xiao et al., 2021): the variant that did not help here."""
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1),
        nn.GELU(),
        nn.Conv2d(width, width, 3, padding=1),
        nn.GELU(),
        nn.Conv2d(width, dim, patch, patch),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-w", "--workspace", type=Path, default=None)
    parser.add_argument("--tag", required=True)
    parser.add_argument("--epochs", type=int, default=None, help="default: train.epochs")
    parser.add_argument("--mae", default="{}", help="JSON overrides of the mae: section")
    parser.add_argument("--train", default="{}", help="JSON overrides of the train: section")
    parser.add_argument("--stem", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)  # two ablations side by side on 2 cores
    ws = workspace.resolve(args.workspace)
    params = load_params(ws.params_file)
    config = replace(params.mae, **json.loads(args.mae))
    recipe = replace(params.train, **{**json.loads(args.train), **({"epochs": args.epochs} if args.epochs else {})})
    x, _, _ = load_split(ws, "train")
    x_test, _, _ = load_split(ws, "test")
    generator = seed_everything(recipe.seed)
    model = MaskedAutoencoder(config)
    if args.stem:
        model.patch_embed = conv_stem(args.stem, config.embed_dim, config.patch_size)
    result = train_inpainter(model, x, recipe, pick_device(), generator, desc=args.tag)
    hole = make_mask("centre", x.shape[-1], params.evaluate.centre_hole)
    psnr = per_image_psnr(model, x_test, {"centre": ("centre", params.evaluate.centre_hole)}, pick_device())
    row = {
        "date": date.today().isoformat(),
        "tag": args.tag,
        "workspace_data": ws.data_version(),
        "n_train": len(x),
        "n_test": len(x_test),
        "mae": asdict(config),
        "train": asdict(recipe),
        "stem": args.stem,
        "seconds": round(result.seconds, 1),
        "epoch_losses": result.epoch_losses,
        "psnr_centre": {**asdict(mean_ci(psnr)), "se": (psnr.std() / len(psnr) ** 0.5).item()},
        "baselines_psnr_centre": baselines.baseline_psnr(x, x_test, hole),
    }
    with RESULTS.open("a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row))


if __name__ == "__main__":
    main()
