"""How far can encoder-noise move a class before retain quality goes? The trade-off per learning
rate and forget weight, read on held-out images, next to what the product's retain rule keeps.

    python -m benchmarks.unlearning_frontier -w WORKSPACE --base PATH --label 3 --tag NAME
        [--blr 2.5e-4 1e-3 4e-3] [--alpha 0.05 0.25 1.0] [--budgets 8 16 32 64] [--check-every 4] [--seeds 3]

Per (blr, alpha, seed), on the product's split for a class request (`split_for_batch`):
- `bounded` (one per --check-every): the product's procedure as params.yaml sets it, retain rule on —
  the steps a batch would keep;
- `unbounded` (one per --budget): retain rule and early stops off, exactly N steps (warm-up + cosine
  over N, as a batch with that budget would schedule them).
Each row: steps run and kept, seconds, the training-side probe's last retain drop, and on held-out
test images (the product's evaluation sets) the forget-class accuracy and PSNR on the centre hole,
the retain PSNR drop (%) and accuracy drop, and the class gate's reference (the class filled by
10-NN from retained classes). Rows append to benchmarks/results/frontier.jsonl;
`python -m benchmarks.unlearning_frontier --report TAG` writes frontier-TAG.md (means over seeds with
95% t intervals) and frontier-TAG-{accuracy,psnr}.png (the curves through the unbounded budgets).

Choose parameters on a class no reported evaluation uses (the 20k benchmark forgets class 7, the
demo class 9), then check the choice on those. Single-threaded, so two processes can share 2 cores.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import torch

from benchmarks.unlearning_vs_retrain import RESULTS, Bench
from components.data.forget_set import evaluation_sets
from components.evaluation import forgetting
from components.evaluation.plots import line_plot
from components.evaluation.stats import mean_ci
from components.models import checkpoint
from components.unlearning.config import UnlearnConfig
from components.unlearning.methods import unlearn
from flows import workspace
from flows.params import load_params

ROWS = RESULTS / "frontier.jsonl"
NEVER = 10**9  # an early-stopping threshold no run reaches
COLUMNS = ("kept", "probe_drop_pct", "forget_accuracy", "forget_psnr", "retain_psnr_drop_pct", "retain_accuracy_drop")


def unbounded(cfg: UnlearnConfig, steps: int) -> UnlearnConfig:
    """Exactly `steps` steps: no retain limit, no forgotten/plateau stop."""
    return replace(cfg, min_steps=steps, max_steps=steps, max_retain_drop_pct=float("inf"), stop_gap=-1.0, patience=NEVER)


class Frontier:
    def __init__(self, bench: Bench, base: torch.nn.Module) -> None:
        """A class request for `bench.label`."""
        self.bench, self.base, self.d = bench, base, bench.d
        self.lists = bench.lists("class")
        self.sets = evaluation_sets(self.lists, self.d.split_of, bench.n_eval)
        self.centre = {"centre": bench.masks["centre"]}
        self.forget, self.retain = self.d.images(self.lists["forget"]), self.d.images(self.lists["retain"])
        self.reference = bench.class_reference(self.lists, self.sets)
        self.original = self.held_out(base)

    def held_out(self, model: torch.nn.Module) -> dict[str, float]:
        out = {}
        for name in ("forget_class", "retain"):
            ids = self.sets[name]
            m = forgetting.evaluate_set(
                model,
                self.bench.featurenet,
                self.d.images(ids),
                self.d.labels(ids),
                self.centre,
                self.bench.device,
                min_fid_samples=NEVER,
            )
            out[f"{name}.psnr"], out[f"{name}.accuracy"] = m["psnr_centre"], m["accuracy_centre"]
        return out

    def run(self, cfg: UnlearnConfig) -> dict:
        model = copy.deepcopy(self.base)
        start = time.perf_counter()
        result = unlearn(model, self.forget, self.retain, cfg, self.bench.device)
        seconds = time.perf_counter() - start
        m = self.held_out(model)
        return {
            "steps": result.fit.steps,
            "kept": result.kept_steps,
            "seconds": round(seconds, 2),
            "stop": result.fit.stop_reason,
            "probe_drop_pct": result.probes[-1]["retain_psnr_drop_pct"],
            "forget_gap": result.probes[-1]["forget_gap"],
            "forget_accuracy": m["forget_class.accuracy"],
            "forget_psnr": m["forget_class.psnr"],
            "retain_psnr_drop_pct": 100 * (1 - m["retain.psnr"] / self.original["retain.psnr"]),
            "retain_accuracy_drop": self.original["retain.accuracy"] - m["retain.accuracy"],
        }


def summary(rows: list[dict]) -> dict[tuple, dict[str, float | str]]:
    """{(blr, alpha, mode, check_every or budget): {column: "mean [low, high]", column + "_mean": mean}} over seeds."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["blr"], r["alpha"], r["mode"], r.get("check_every", r.get("budget"))), []).append(r)
    out = {}
    for key, runs in sorted(groups.items()):
        cells: dict[str, float | str] = {"seeds": len(runs)}
        for c in COLUMNS:
            ci = mean_ci(torch.tensor([float(r[c]) for r in runs]))
            cells[c], cells[c + "_mean"] = f"{ci.mean:.3g} [{ci.low:.3g}, {ci.high:.3g}]", ci.mean
        out[key] = cells
    return out


def report(tag: str) -> str:
    rows = [r for r in map(json.loads, ROWS.read_text().splitlines()) if r["tag"] == tag]
    if not rows:
        raise SystemExit(f"no rows tagged {tag!r} in {ROWS}")
    first, table = rows[0], summary(rows)
    lines = [
        f"# encoder-noise frontier `{tag}` ({first['date']}): class {first['label']}, {first['n_forget']} forgotten, base {first['base']}",
        "",
        f"Held-out: {first['n_eval']['forget_class']} unseen images of the class, {first['n_eval']['retain']} of the others "
        f"(centre hole). Original: forget accuracy {first['original']['forget_class.accuracy']:.3f}, forget PSNR "
        f"{first['original']['forget_class.psnr']:.2f} dB, retain PSNR {first['original']['retain.psnr']:.2f} dB; the class "
        f"gate's reference (10-NN from retained classes) {first['reference_accuracy']:.3f}. Mean over seeds [95% t interval].",
        "",
        "| blr | alpha | run | seeds | kept steps | probe retain drop % (last read) | forget acc | forget PSNR | retain PSNR drop % | retain acc drop |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (blr, alpha, mode, knob), cells in table.items():
        run = f"retain rule, check every {knob}" if mode == "bounded" else f"{knob} steps, no rule"
        lines.append(f"| {blr:g} | {alpha:g} | {run} | {cells['seeds']} | " + " | ".join(str(cells[c]) for c in COLUMNS) + " |")
    for column, label in (("forget_accuracy", "forget-class accuracy"), ("forget_psnr", "forget-class PSNR (dB)")):
        series = {}
        for (blr, alpha, mode, _), cells in table.items():
            if mode == "unbounded":
                xs, ys = series.setdefault(f"blr {blr:g}, alpha {alpha:g}", ([], []))
                xs.append(cells["retain_psnr_drop_pct_mean"])
                ys.append(cells[column + "_mean"])
        line_plot(
            series,
            "retain PSNR drop (%, held-out)",
            label,
            f"{tag}: unbounded budgets",
            RESULTS / f"frontier-{tag}-{column.split('_')[1]}.png",
        )
    text = "\n".join(lines) + "\n"
    (RESULTS / f"frontier-{tag}.md").write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", metavar="TAG", help="summarise the rows tagged TAG (no runs)")
    parser.add_argument("-w", "--workspace", type=Path, default=None)
    parser.add_argument("--base", type=Path, help="the MAE checkpoint to unlearn from")
    parser.add_argument("--label", type=int, help="the class the request forgets")
    parser.add_argument("--tag")
    parser.add_argument("--blr", type=float, nargs="+", default=[2.5e-4, 1e-3, 4e-3])
    parser.add_argument("--alpha", type=float, nargs="+", default=[0.05, 0.25, 1.0])
    parser.add_argument("--budgets", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--check-every", type=int, nargs="+", default=[4])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    if args.report:
        print(report(args.report))
        return
    if args.base is None or args.label is None or args.tag is None:
        parser.error("--base, --label and --tag are required for a run")
    torch.set_num_threads(1)
    ws = workspace.resolve(args.workspace)
    params = load_params(ws.params_file)
    frontier = Frontier(Bench(ws, params, RESULTS, args.label), checkpoint.load(args.base))
    common = {
        "date": date.today().isoformat(),
        "tag": args.tag,
        "data": ws.data_version(),
        "base": str(args.base),
        "label": args.label,
        "n_forget": len(frontier.forget),
        "n_eval": {k: len(v) for k, v in frontier.sets.items()},
        "reference_accuracy": frontier.reference.accuracy,
        "reference_psnr": frontier.reference.psnr,
        "original": frontier.original,
    }
    print(json.dumps(common), flush=True)
    for blr in args.blr:
        for alpha in args.alpha:
            for seed in range(args.seeds):
                cfg = replace(params.unlearn, method="encoder-noise", blr=blr, alpha=alpha, seed=seed)
                runs = [("bounded", c, replace(cfg, check_every=c)) for c in args.check_every]
                runs += [("unbounded", n, unbounded(cfg, n)) for n in args.budgets]
                for mode, knob, run_cfg in runs:
                    row = {
                        **common,
                        "blr": blr,
                        "alpha": alpha,
                        "seed": seed,
                        "mode": mode,
                        ("check_every" if mode == "bounded" else "budget"): knob,
                        **frontier.run(run_cfg),
                    }
                    with ROWS.open("a") as f:
                        f.write(json.dumps(row) + "\n")
                    print(
                        {
                            k: row[k]
                            for k in (
                                "blr",
                                "alpha",
                                "seed",
                                "mode",
                                "steps",
                                "kept",
                                "probe_drop_pct",
                                "forget_accuracy",
                                "retain_psnr_drop_pct",
                                "retain_accuracy_drop",
                            )
                        },
                        flush=True,
                    )


if __name__ == "__main__":
    main()
