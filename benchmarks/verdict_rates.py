"""How often does each model get each sample-gate verdict? Positive controls must read `remembered`,
retrain oracles must not, and small requests must get decisive verdicts where the data allows.

    python -m benchmarks.verdict_rates -w WORKSPACE --cache DIR [--scenario pool|memorise]
        [--sizes 2 5 50 500] [--seeds 5] [--oracles 2] [--methods encoder-noise max-loss ...]
        [--only-train base oracle0 ...] [--name STEM]

Scenario `pool` (the default data): a pool P of training images, chosen by data subject (sha256 order)
until it holds max(--sizes) images. The base trains on all training images; the retrain oracles on
the training images minus P, so one oracle never saw any request drawn from P. Per request size n
and seed, the request is n images of P (a seeded draw of whole subjects, cut to n).
Scenario `memorise` (a workspace prepared with `data.duplicate_subjects` / `duplicate_copies`): P is
every training image of the duplicated subjects (copies included); --sizes count subjects there
(e.g. 1 5: one subject, starting at subject k for seed k, and all five).

Per (size, seed), the controls and each method get the product's sample verdict (`references.sample_evidence` +
`gates.equivalence`, margins from the workspace's `gates:`): the base; the positive control (the base
fine-tuned on the requested images); a retrain oracle (seed mod --oracles); each of --methods
(default encoder-noise and encoder-noise-proxy) from the base, with the workspace's `unlearn:`. Beside it: the same verdict on the
uncalibrated statistic (per-image PSNR, pooled), the old gate's pass (interval not wholly above
the margin), the calibrated membership attack's AUC (reference: the oracles that are not the model).

`--cache DIR` trains each model once (DIR/<scenario>-base.pt, -oracle<k>.pt) and reuses it;
`--only-train` trains just those and exits, so they can train side by side, one process each.
Every process here runs on one thread (recorded), so times compare. Writes
benchmarks/results/<stem>.json + .md (+ <stem>-grid.png for `memorise`).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import time
from dataclasses import asdict, replace
from datetime import date
from pathlib import Path

import torch

from benchmarks.unlearning_vs_retrain import RESULTS, Bench
from components.data.forget_set import distinct_images, retained_training, split_for_batch, spread
from components.evaluation import gates, grids, membership, references
from components.evaluation.baselines import nearest_fill
from components.evaluation.stats import bootstrap, difference_ci, mean_ci, pooled_difference
from components.models.masking import make_mask
from components.models.recipes import memorising_recipe, train_inpainter
from flows import workspace
from flows.params import load_params

CONTROLS = ("positive-control", "retrain", "base")
METHODS = ("encoder-noise", "encoder-noise-proxy")  # --methods: any unlearning method but the oracle
OLD_MASKS = (2, 4)  # the old gate's readings among references.SAMPLE_MASKS: centre 16 and border 8 (evaluate: masks)


class VerdictBench(Bench):
    def __init__(self, ws, params, out: Path, scenario: str, sizes: list[int], methods: tuple[str, ...] = METHODS) -> None:
        super().__init__(ws, params, out)
        self.scenario = scenario
        self.methods = methods
        train = [s for s in self.d.samples if s.split == "train"]
        if scenario == "memorise":
            self.subjects = sorted({s.subject_id for s in train if s.sample_id.rsplit("-copy", 1)[-1] != s.sample_id})
            if not self.subjects:
                raise SystemExit(
                    "no duplicated subjects in this workspace: set data.duplicate_subjects/duplicate_copies and prepare"
                )
            wanted = set(self.subjects)
        else:
            order = sorted({s.subject_id for s in train}, key=lambda x: hashlib.sha256(x.encode()).hexdigest())
            wanted, count = set(), 0
            for subject in order:
                if count >= max(sizes):
                    break
                wanted.add(subject)
                count += sum(s.subject_id == subject for s in train)
            self.subjects = sorted(wanted, key=lambda x: hashlib.sha256(x.encode()).hexdigest())
        self.by_id = {s.sample_id: s for s in self.d.samples}
        self.pool = [s.sample_id for s in train if s.subject_id in wanted]

    def trained(self, which: str, cache: Path) -> tuple[torch.nn.Module, float]:
        if which == "base":
            return self.cached("mae", self.d.ids("train"), self.params.train.seed, "base", cache / f"{self.scenario}-base.pt")
        k = int(which.removeprefix("oracle"))
        pool = set(self.pool)
        return self.cached(
            "mae",
            [i for i in self.d.ids("train") if i not in pool],
            100 + k,
            f"oracle {k}",
            cache / f"{self.scenario}-oracle{k}.pt",
        )

    def request(self, size: int, seed: int) -> list[str]:
        """The requested sample ids: whole subjects in a seeded order, cut to `size` images (memorise: `size`
        duplicated subjects, starting at subject `seed`)."""
        if self.scenario == "memorise":
            wanted = {self.subjects[(seed + j) % len(self.subjects)] for j in range(min(size, len(self.subjects)))}
            return sorted(s.sample_id for s in self.d.samples if s.subject_id in wanted and s.split == "train")
        order = sorted(self.subjects, key=lambda x: hashlib.sha256(f"{seed}:{x}".encode()).hexdigest())
        ids = [s.sample_id for subject in order for s in self.d.samples if s.subject_id == subject and s.split == "train"]
        return sorted(ids[:size])

    def positive_control(self, base: torch.nn.Module, ids: list[str], seed: int) -> torch.nn.Module:
        """The base fine-tuned on the requested images alone (>= 60 steps): it certainly remembers them."""
        model = copy.deepcopy(base)
        batches = math.ceil(len(ids) / 32)
        recipe = memorising_recipe(self.params.train.lr / 2, max(30, math.ceil(60 / batches)), seed)
        train_inpainter(
            model, self.d.images(ids), recipe, self.device, torch.Generator().manual_seed(seed), desc="positive control"
        )
        return model

    def judge(
        self,
        model: torch.nn.Module,
        ref: references.SampleReference,
        oracle_losses: dict[int, tuple[torch.Tensor, torch.Tensor]],
        own: int | None,
    ) -> dict:
        """The sample verdict on `ref`, from one set of readings: the product's calibrated gap, the raw
        (uncalibrated) gap, the old gate, and the membership attack calibrated by the oracles other than
        this model (`own`: its index among them, or None)."""
        cfg = self.params.gates
        readings = [references.hidden_psnr(model, x, self.device) for x in (ref.forgotten, ref.unseen)]
        calibrated = references.calibrated_gap(*readings, ref)
        raw = pooled_difference(*(r.mean(0) for r in readings))
        # candidate, not the product's: also subtract the model's own PSNR on the mirrored image (same
        # difficulty, other pixels), halving the two references
        mirrored = [references.hidden_psnr(model, x.flip(-1), self.device) for x in (ref.forgotten, ref.unseen)]
        fills = (ref.forgotten_fill, ref.unseen_fill)
        both = pooled_difference(*((r - (f + m) / 2).mean(0) for r, f, m in zip(readings, fills, mirrored, strict=True)))
        old = difference_ci(*(r[list(OLD_MASKS)].mean(0) for r in readings))
        margins = (-cfg.sample_overforget_db, cfg.sample_remembered_db)
        others = [losses for k, losses in oracle_losses.items() if k != own]
        target = [(10 ** (-r / 10)).mean(0) for r in readings]  # hidden-pixel MSE, mean over the masks
        scores = [torch.stack([o[side] for o in others]).mean(0) - target[side] for side in (0, 1)]
        auc = bootstrap((scores[0].double(), scores[1].double()), membership.mann_whitney_auc, resamples=1000)
        return {
            "verdict": gates.equivalence(calibrated, *margins),
            "gap": asdict(calibrated),
            "detectable_db": calibrated.detectable(margins[1]),
            "raw_verdict": gates.equivalence(raw, *margins),
            "raw_gap": asdict(raw),
            "mirror_verdict": gates.equivalence(both, *margins),
            "mirror_gap": asdict(both),
            "old_gate_passed": old.low <= margins[1],
            "auc": asdict(auc),
        }

    def losses(self, model: torch.nn.Module, ref: references.SampleReference) -> tuple[torch.Tensor, torch.Tensor]:
        return tuple((10 ** (-references.hidden_psnr(model, x, self.device) / 10)).mean(0) for x in (ref.forgotten, ref.unseen))

    def unlearned(self, base: torch.nn.Module, method: str, requested: list[str], seed: int) -> tuple[torch.nn.Module, dict]:
        lists = split_for_batch(self.d.samples, set(requested), set(), self.params.unlearn.retain_samples, seed).lists()
        cfg = replace(self.params.unlearn, method=method, seed=seed)
        retain = lists["proxy" if method == "encoder-noise-proxy" else "retain"]
        model = copy.deepcopy(base)
        start = time.perf_counter()
        from components.unlearning.methods import unlearn

        result = unlearn(model, self.d.images(lists["forget"]), self.d.images(retain), cfg, self.device)
        return model, {"seconds": time.perf_counter() - start, "steps": result.fit.steps, "kept": result.kept_steps}

    def run(
        self, sizes: list[int], seeds: int, oracles: list[torch.nn.Module], oracle_seconds: list[float], base: torch.nn.Module
    ) -> list[dict]:
        rows = []
        for size in sizes:
            for seed in range(seeds):
                requested = self.request(size, seed)
                forgotten = distinct_images(requested, self.by_id)
                labels = {self.d.label_of[i] for i in forgotten}
                unseen = spread([i for i in self.d.ids("test") if self.d.label_of[i] in labels], self.n_eval)
                bank = self.d.images(
                    spread(retained_training(self.d.samples, set(requested), set()), self.params.evaluate.reference_bank)
                )
                ref = references.sample_reference(self.d.images(forgotten), self.d.images(unseen), bank)
                oracle_losses = {k: self.losses(o, ref) for k, o in enumerate(oracles)}
                own = seed % len(oracles)
                models = {
                    "base": (base, {}),
                    "retrain": (oracles[own], {"seconds": oracle_seconds[own]}),
                    "positive-control": (self.positive_control(base, forgotten, seed), {}),
                }
                for method in self.methods:
                    models[method] = self.unlearned(base, method, requested, seed)
                for name, (model, timing) in models.items():
                    row = {
                        "scenario": self.scenario,
                        "size": size,
                        "n_requested": len(requested),
                        "n_distinct": len(forgotten),
                        "seed": seed,
                        "model": name,
                        **timing,
                        **self.judge(model, ref, oracle_losses, own if name == "retrain" else None),
                    }
                    rows.append(row)
                    print(
                        f"[n={size} seed={seed}] {name}: {row['verdict']} gap {row['gap']['mean']:+.2f} "
                        f"(se {row['gap']['se']:.2f}; raw se {row['raw_gap']['se']:.2f}) AUC {row['auc']['mean']:.2f}",
                        flush=True,
                    )
                if self.scenario == "memorise" and seed == 0:
                    self.grid(forgotten, bank, {k: models[k][0] for k in ("base", "encoder-noise", "retrain")})
        return rows

    def grid(self, ids: list[str], bank: torch.Tensor, models: dict[str, torch.nn.Module]) -> None:
        """truth | masked | base | encoder-noise | oracle | 10-NN fill from retained data, centre hole."""
        x = self.d.images(ids[:8])
        spec = self.masks["centre"]
        mask = make_mask(spec[0], x.shape[-1], spec[1], len(x))
        columns = [x, x * (1 - mask)] + [m.eval().inpaint(x.to(self.device), mask.to(self.device)).cpu() for m in models.values()]
        columns.append(nearest_fill(bank, x, make_mask(spec[0], x.shape[-1], spec[1]), 10))
        grids.save_grid(columns, self.out.with_name(self.out.name + "-grid.png"))


def table(rows: list[dict], sizes: list[int]) -> dict:
    """Per model and size: verdict counts, the calibrated and raw standard errors, detectable effect, AUC."""
    out = {}
    for model in dict.fromkeys(r["model"] for r in rows):
        for size in sizes:
            group = [r for r in rows if r["model"] == model and r["size"] == size]
            if not group:
                continue
            aucs = torch.tensor([r["auc"]["mean"] for r in group])
            out[f"{model}|{size}"] = {
                "runs": len(group),
                **{v: sum(r["verdict"] == v for r in group) for v in (gates.FORGOTTEN, gates.REMEMBERED, gates.INCONCLUSIVE)},
                "raw_remembered": sum(r["raw_verdict"] == gates.REMEMBERED for r in group),
                "raw_forgotten": sum(r["raw_verdict"] == gates.FORGOTTEN for r in group),
                "mirror_remembered": sum(r["mirror_verdict"] == gates.REMEMBERED for r in group),
                "mirror_forgotten": sum(r["mirror_verdict"] == gates.FORGOTTEN for r in group),
                "mirror_se_db": sum(r["mirror_gap"]["se"] for r in group) / len(group),
                "old_gate_passed": sum(r["old_gate_passed"] for r in group),
                "gap_db": asdict(mean_ci(torch.tensor([r["gap"]["mean"] for r in group]))),
                "se_db": sum(r["gap"]["se"] for r in group) / len(group),
                "raw_se_db": sum(r["raw_gap"]["se"] for r in group) / len(group),
                "detectable_db": sum(r["detectable_db"] for r in group) / len(group),
                "auc": asdict(mean_ci(aucs)),
                "auc_low_above_half": sum(r["auc"]["low"] > 0.5 for r in group),
                "seconds": sum(r.get("seconds", 0.0) for r in group) / len(group),
            }
    return out


def markdown(results: dict) -> str:
    lines = [
        f"# Sample-gate verdicts: scenario `{results['scenario']}` ({results['date']}, {results['threads']} thread(s))",
        "",
        f"Margins [{-results['gates']['sample_overforget_db']:+g}, +{results['gates']['sample_remembered_db']:g}] dB; "
        f"{results['seeds']} seeds per size; forgotten / remembered / inconclusive counts. `se`: standard error of the "
        "calibrated gap (raw: without the 10-NN calibration); `detect`: smallest gap detected with 80% power; "
        "AUC: calibrated membership attack, mean over seeds [95% CI], and in how many runs its own interval lay above 0.5; "
        "old: runs the earlier gate passed; raw F/R: forgotten/remembered counts without the calibration; mirror: a candidate "
        "statistic that also subtracts the model's PSNR on the mirrored image (se in brackets).",
        "",
        "| model | n | forgotten | remembered | inconclusive | gap dB | se (raw) | detect dB | AUC | AUC>0.5 | old gate passed | raw F/R | mirror F/R (se) | s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, t in results["table"].items():
        model, size = key.split("|")
        g, a = t["gap_db"], t["auc"]
        lines.append(
            f"| {model} | {size} | {t['forgotten']} | {t['remembered']} | {t['inconclusive']} | {g['mean']:+.2f} "
            f"[{g['low']:+.2f}, {g['high']:+.2f}] | {t['se_db']:.2f} ({t['raw_se_db']:.2f}) | {t['detectable_db']:+.2f} | "
            f"{a['mean']:.2f} [{a['low']:.2f}, {a['high']:.2f}] | {t['auc_low_above_half']}/{t['runs']} | "
            f"{t['old_gate_passed']}/{t['runs']} | {t['raw_forgotten']}/{t['raw_remembered']} | "
            f"{t['mirror_forgotten']}/{t['mirror_remembered']} ({t['mirror_se_db']:.2f}) | {t['seconds']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-w", "--workspace", type=Path, default=None)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--scenario", choices=["pool", "memorise"], default="pool")
    parser.add_argument("--sizes", type=int, nargs="+", default=[2, 5, 50, 500])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--oracles", type=int, default=2)
    parser.add_argument(
        "--only-train", nargs="+", default=None, metavar="MODEL", help="base and/or oracle<k>: train into --cache and exit"
    )
    parser.add_argument("--methods", nargs="+", default=list(METHODS), help="unlearning methods to judge beside the controls")
    parser.add_argument("--name", default=None)
    args = parser.parse_args()
    if "retrain" in args.methods:
        parser.error("retrain is the oracle row already; --methods takes the other methods")
    torch.set_num_threads(1)
    ws = workspace.resolve(args.workspace)
    params = load_params(ws.params_file)
    stem = args.name or f"{date.today().isoformat()}-verdicts-{args.scenario}"
    args.cache.mkdir(parents=True, exist_ok=True)
    bench = VerdictBench(ws, params, RESULTS / stem, args.scenario, args.sizes, tuple(args.methods))
    if args.only_train:
        for which in args.only_train:
            print(f"{which}: {bench.trained(which, args.cache)[1]:.0f} s", flush=True)
        return
    start = time.perf_counter()
    base, base_seconds = bench.trained("base", args.cache)
    trained = [bench.trained(f"oracle{k}", args.cache) for k in range(args.oracles)]
    sizes = args.sizes
    rows = bench.run(sizes, args.seeds, [m for m, _ in trained], [s for _, s in trained], base)
    results = {
        "date": date.today().isoformat(),
        "scenario": args.scenario,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "data_dvc_md5": ws.data_version(),
        "pool": len(bench.pool),
        "seeds": args.seeds,
        "oracles": args.oracles,
        "methods": list(args.methods),
        "gates": asdict(params.gates),
        "unlearn": asdict(params.unlearn),
        "base_seconds": base_seconds,
        "oracle_seconds": [s for _, s in trained],
        "table": table(rows, sizes),
        "rows": rows,
        "total_seconds": time.perf_counter() - start,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (RESULTS / f"{stem}.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
