"""Every unlearning method against the retrain oracle, measured in one process on the same data.

    python -m benchmarks.unlearning_vs_retrain [-w WORKSPACE] [--families mae conv-ae] [--methods ...]

For each model family and each scenario (one whole class; ~1% of training samples chosen by data
subject) it times and evaluates the original model, every method and the oracle (retrain from
scratch on D \\ D_F with the base recipe), then writes benchmarks/results/<date>-<host>.json, a
markdown table beside it, plots, and logs everything to the MLflow experiment `forgetflow-benchmark`.
Not part of the test suite: on 2 CPUs a full run takes tens of minutes.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import platform
import socket
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import torch

from components import data, registry
from components.device import pick_device, seed_everything
from components.evaluation import forgetting, grids, membership, plots
from components.models import checkpoint
from components.models.masking import make_mask
from components.models.recipes import train_inpainter
from components.unlearning.config import METHODS
from components.unlearning.methods import unlearn
from flows import workspace
from flows.params import Params, load_params
from flows.prepare import prepare
from flows.train_base import FAMILIES, FEATURENET, train_featurenet

RESULTS = Path(__file__).parent / "results"
ALPHAS = (0.05, 0.1, 0.25, 0.5, 1.0)
HOLES, BORDERS = (8, 12, 16, 20, 24), (2, 4, 6, 8, 10)
MIA_MASK = ("centre", 16)


def scenario_ids(samples: list[data.Sample], kind: str, label: int, fraction: float) -> dict[str, list[str]]:
    """Forget / retain / proxy / evaluation / membership id lists for one scenario."""
    train = [s for s in samples if s.split == "train"]
    test = [s for s in samples if s.split == "test"]
    if kind == "class":
        forget = [s for s in train if s.label == label]
        gone_labels = {label}
    else:  # whole subjects, in hash order, until `fraction` of the training split
        order = sorted({s.subject_id for s in train}, key=lambda x: hashlib.sha256(x.encode()).hexdigest())
        chosen, forget = set(), []
        for subject in order:
            if len(forget) >= fraction * len(train):
                break
            chosen.add(subject)
            forget += [s for s in train if s.subject_id == subject]
        gone_labels = set()
    forget_ids = {s.sample_id for s in forget}
    retain = [s for s in train if s.sample_id not in forget_ids and s.label not in gone_labels]
    held_out = [s for s in test if s.label not in gone_labels]
    same_classes = [s for s in test if s.label in {f.label for f in forget}]
    members = [s.sample_id for s in forget][: len(same_classes)]
    return {
        "forget": [s.sample_id for s in forget],
        "retain_all": [s.sample_id for s in retain],
        "retain": sorted((s.sample_id for s in retain), key=lambda x: hashlib.sha256(x.encode()).hexdigest())[:1000],
        "proxy": [s.sample_id for s in held_out[1::2]],
        "eval_forget": [s.sample_id for s in (same_classes if kind == "class" else forget)],
        "eval_retain": [s.sample_id for s in held_out[0::2]],
        "mia_members": members,
        "mia_non_members": [s.sample_id for s in same_classes][: len(members)],
    }


class Bench:
    def __init__(self, ws: workspace.Workspace, params: Params, out: Path) -> None:
        self.ws, self.params, self.out, self.device = ws, params, out, pick_device()
        self.samples = {s.sample_id: s for s in data.read_manifest(ws.data_dir)}
        self._cache: dict[str, torch.Tensor] = {}
        if not (ws.models_dir / FEATURENET).is_file():
            train_featurenet(ws, params)
        self.featurenet = checkpoint.load(ws.models_dir / FEATURENET)

    def images(self, ids: list[str]) -> torch.Tensor:
        key = hashlib.sha256("\n".join(ids).encode()).hexdigest()
        if key not in self._cache:
            self._cache[key] = data.load_images(self.ws.data_dir, [self.samples[i] for i in ids])
        return self._cache[key]

    def labels(self, ids: list[str]) -> torch.Tensor:
        return data.load_labels([self.samples[i] for i in ids])

    def base(self, family: str) -> tuple[torch.nn.Module, float | None]:
        """The family's DVC-trained base checkpoint if present, else trained here (and timed)."""
        path = self.ws.models_dir / f"{FAMILIES[family].stem}.pt"
        if path.is_file():
            return checkpoint.load(path), None
        model = FAMILIES[family].build(self.params)
        train_ids = [i for i, s in self.samples.items() if s.split == "train"]
        result = train_inpainter(model, self.images(train_ids), self.params.train, self.device,
                                 seed_everything(self.params.train.seed), desc=f"base {family}")
        return model, result.seconds

    def measure(self, model: torch.nn.Module, ids: dict[str, list[str]], oracle: torch.nn.Module | None) -> dict:
        masks = self.params.evaluate.masks()
        out = {}
        for name in ("forget", "retain"):
            x, y = self.images(ids[f"eval_{name}"]), self.labels(ids[f"eval_{name}"])
            out[name] = forgetting.evaluate_set(model, self.featurenet, x, y, masks, self.device, self.params.evaluate.min_fid_samples)
        out["mia_auc"] = membership.membership_auc(model, self.images(ids["mia_members"]), self.images(ids["mia_non_members"]),
                                                   MIA_MASK, self.device)
        if oracle is not None:
            x = self.images(ids["eval_forget"])
            mask = make_mask("centre", 32, 16, len(x))
            with torch.no_grad():
                diff = (model.inpaint(x, mask) - oracle.inpaint(x, mask)) ** 2 * mask
            out["oracle_mse_forget"] = float(diff.sum() / mask.sum())
        return out

    def run_method(self, base: torch.nn.Module, method: str, ids: dict[str, list[str]], **overrides) -> tuple[torch.nn.Module, float]:
        cfg = replace(self.params.unlearn, method=method, **overrides)
        retain_key = {"retrain": "retain_all", "encoder-noise-proxy": "proxy"}.get(method, "retain")
        model = copy.deepcopy(base)
        start = time.perf_counter()
        unlearn(model, self.images(ids["forget"]), self.images(ids[retain_key]), cfg, self.device)
        return model, time.perf_counter() - start

    def scenario(self, family: str, base: torch.nn.Module, kind: str, methods: list[str]) -> dict:
        ids = scenario_ids(list(self.samples.values()), kind, label=7, fraction=0.01)
        tag = f"{family}-{kind}"
        oracle, oracle_seconds = self.run_method(base, "retrain", ids)
        rows = {"original": {"seconds": 0.0, **self.measure(base, ids, oracle)},
                "retrain": {"seconds": oracle_seconds, **self.measure(oracle, ids, None)}}
        models = {"original": base}
        for method in methods:
            model, seconds = self.run_method(base, method, ids)
            rows[method] = {"seconds": seconds, **self.measure(model, ids, oracle)}
            models[method] = model
            print(f"[{tag}] {method}: {seconds:.1f} s", flush=True)
        models["retrain"] = oracle
        self.figures(tag, ids, models)
        return {"family": family, "scenario": kind, "n_forget": len(ids["forget"]), "n_retain_all": len(ids["retain_all"]),
                "n_eval_forget": len(ids["eval_forget"]), "n_eval_retain": len(ids["eval_retain"]), "methods": rows}

    def figures(self, tag: str, ids: dict[str, list[str]], models: dict[str, torch.nn.Module]) -> None:
        x = self.images(ids["eval_forget"][:8] + ids["eval_retain"][:4])
        mask = make_mask("centre", 32, 16, len(x))
        grids.save_grid([x, x * (1 - mask)] + [m.inpaint(x, mask) for m in models.values()], self.out / f"{tag}-grid.png")
        series = {}
        for name in ("original", "encoder-noise", "retrain"):
            if name not in models:
                continue
            for split in ("forget", "retain"):
                xs = self.images(ids[f"eval_{split}"])
                ys = [forgetting.evaluate_set(models[name], self.featurenet, xs, self.labels(ids[f"eval_{split}"]),
                                              {"m": ("centre", h)}, self.device, min_fid_samples=10**9)["psnr_m"] for h in HOLES]
                series[f"{name} / {split}"] = (list(HOLES), ys)
        plots.line_plot(series, "centre hole (px)", "masked PSNR (dB)", f"{tag}: PSNR vs mask size", self.out / f"{tag}-mask-size.png")
        if "encoder-noise" in models:
            feats = {}
            for name in ("original", "encoder-noise"):
                for split in ("forget", "retain"):
                    xs = self.images(ids[f"eval_{split}"][:50])
                    m = make_mask("centre", 32, 16, len(xs))
                    with torch.no_grad():
                        feats[f"{name} / {split}"] = self.featurenet.features(models[name].inpaint(xs, m)).numpy()
            plots.tsne_plot(feats, self.out / f"{tag}-tsne.png")

    def alpha_ablation(self, base: torch.nn.Module, family: str) -> dict:
        ids = scenario_ids(list(self.samples.values()), "class", label=7, fraction=0.01)
        rows = {}
        for alpha in ALPHAS:
            model, seconds = self.run_method(base, "encoder-noise", ids, alpha=alpha)
            measured = self.measure(model, ids, None)
            rows[str(alpha)] = {"seconds": seconds, "forget_psnr_centre": measured["forget"]["psnr_centre"],
                                "retain_psnr_centre": measured["retain"]["psnr_centre"],
                                "forget_cosine_centre": measured["forget"]["cosine_centre"]}
        plots.line_plot({"forget": (list(ALPHAS), [r["forget_psnr_centre"] for r in rows.values()]),
                         "retain": (list(ALPHAS), [r["retain_psnr_centre"] for r in rows.values()])},
                        "alpha", "masked PSNR (dB)", f"{family}: encoder-noise alpha ablation", self.out / f"{family}-alpha.png")
        return rows


def markdown(results: dict) -> str:
    lines = [f"# Unlearning vs retrain — {results['date']} on {results['host']} ({results['device']}, torch {results['torch']})", ""]
    for sc in results["scenarios"]:
        rows = sc["methods"]
        oracle_t = rows["retrain"]["seconds"]
        lines += [f"## {sc['family']}, {sc['scenario']}-level forget ({sc['n_forget']} training images; "
                  f"eval {sc['n_eval_forget']} forget / {sc['n_eval_retain']} retain)", "",
                  "| method | wall s | ÷ retrain | forget PSNR | forget cosine | forget acc | retain PSNR | retain acc | MIA AUC | MSE to oracle (forget) |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for name, r in rows.items():
            f, t = r["forget"], r["retain"]
            lines.append(f"| {name} | {r['seconds']:.1f} | {r['seconds'] / oracle_t:.3f} | {f['psnr_centre']:.2f} | {f['cosine_centre']:.3f} | "
                         f"{f['accuracy_centre']:.3f} | {t['psnr_centre']:.2f} | {t['accuracy_centre']:.3f} | {r['mia_auc']:.3f} | "
                         f"{r.get('oracle_mse_forget', 0.0):.4f} |")
        if "encoder-noise" in rows:
            en, orig, orc = rows["encoder-noise"], rows["original"], rows["retrain"]
            checks = [
                ("time <= 5% of retrain", en["seconds"] / oracle_t <= 0.05, f"{100 * en['seconds'] / oracle_t:.1f}%"),
                ("forget recognisability <= oracle + 5 pts", en["forget"]["accuracy_centre"] <= orc["forget"]["accuracy_centre"] + 0.05,
                 f"{en['forget']['accuracy_centre']:.3f} vs {orc['forget']['accuracy_centre']:.3f}"),
                ("retain PSNR within 2% of original", en["retain"]["psnr_centre"] >= 0.98 * orig["retain"]["psnr_centre"],
                 f"{en['retain']['psnr_centre']:.2f} vs {orig['retain']['psnr_centre']:.2f} dB"),
                ("MIA AUC within 0.05 of oracle", abs(en["mia_auc"] - orc["mia_auc"]) <= 0.05, f"{en['mia_auc']:.3f} vs {orc['mia_auc']:.3f}"),
            ]
            lines += ["", "Targets for encoder-noise: " + "; ".join(f"{'MET' if ok else 'MISSED'} {name} ({v})" for name, ok, v in checks)]
        lines.append("")
    if results["scenarios"]:
        order = " | ".join([m for m in results["scenarios"][0]["methods"] if m != "retrain"] + ["retrain"])
        lines += [f"Figures in `{results['date']}-{results['host']}/`: `<family>-<scenario>-grid.png` (8 forget then 4 retain "
                  f"images; columns: ground truth | masked | {order}), `-mask-size.png`, `-tsne.png`, `mae-alpha.png`.", ""]
    for family, rows in results.get("alpha_ablation", {}).items():
        lines += [f"## {family}: encoder-noise alpha ablation (class-level)", "", "| alpha | forget PSNR | forget cosine | retain PSNR |", "|---|---|---|---|"]
        lines += [f"| {a} | {r['forget_psnr_centre']:.2f} | {r['forget_cosine_centre']:.3f} | {r['retain_psnr_centre']:.2f} |" for a, r in rows.items()]
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-w", "--workspace", type=Path, default=None)
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--methods", nargs="+", default=[m for m in METHODS if m != "retrain"],
                        choices=[m for m in METHODS if m != "retrain"])
    parser.add_argument("--scenarios", nargs="+", default=["class", "sample"], choices=["class", "sample"])
    parser.add_argument("--no-ablation", action="store_true")
    args = parser.parse_args()
    ws = workspace.resolve(args.workspace)
    params = load_params(ws.params_file)
    prepare(ws, params)
    stamp = f"{date.today().isoformat()}-{socket.gethostname()}"
    out = RESULTS / stamp
    bench = Bench(ws, params, out)
    results = {"date": date.today().isoformat(), "host": socket.gethostname(), "device": str(bench.device),
               "cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
               "torch": torch.__version__, "data_dvc_md5": ws.data_version(), "unlearn": vars(params.unlearn) | {},
               "base_seconds": {}, "scenarios": [], "alpha_ablation": {}}
    start = time.perf_counter()
    for family in args.families:
        base, seconds = bench.base(family)
        results["base_seconds"][family] = seconds
        for kind in args.scenarios:
            results["scenarios"].append(bench.scenario(family, base, kind, args.methods))
        if not args.no_ablation and family == "mae":
            results["alpha_ablation"][family] = bench.alpha_ablation(base, family)
    results["total_seconds"] = time.perf_counter() - start
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stamp}.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (RESULTS / f"{stamp}.md").write_text(markdown(results))
    _log_to_mlflow(ws, results, out, RESULTS / f"{stamp}.md")
    print(markdown(results))


def _log_to_mlflow(ws: workspace.Workspace, results: dict, figures: Path, table: Path) -> None:
    import mlflow

    registry.connect(ws.root, "forgetflow-benchmark")
    with mlflow.start_run(run_name=f"unlearning-vs-retrain {results['date']}"):
        for sc in results["scenarios"]:
            for method, r in sc["methods"].items():
                prefix = f"{sc['family']}.{sc['scenario']}.{method}"
                mlflow.log_metrics({f"{prefix}.seconds": r["seconds"], f"{prefix}.mia_auc": r["mia_auc"],
                                    **{f"{prefix}.{s}.{k}": v for s in ("forget", "retain") for k, v in r[s].items()}})
        mlflow.log_artifact(str(table))
        mlflow.log_artifacts(str(figures), "figures")


if __name__ == "__main__":
    main()
