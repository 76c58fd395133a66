"""Can forgetting be certified? Every method against independently seeded retrain oracles, in one
process, on the same data, with seeds, confidence intervals and a membership attack that is shown
to work on a positive control.

    python -m benchmarks.unlearning_vs_retrain -w WORKSPACE [--seeds 3] [--oracles 2] [--methods ...]
        [--scenarios class sample] [--label 7] [--base-dir DIR] [--oracle-dir DIR [--only-oracles K ...]] [--name STEM]

`--base-dir` trains each family's base once and reuses it (DIR/<family>.pt: loaded if it exists,
else trained and saved), so the two scenarios can run as two single-threaded processes side by side (on 2 cores
that is ~1.9x the throughput of one process with 2 threads); `python -m benchmarks.report A.json
B.json` merges their results into one table. `--oracle-dir` does the same for the retrain oracles, and
`--only-oracles K` trains just oracle K there and exits, so the oracles can be trained side by side
too. A saved model is reused only if its model config, recipe, seed and training images match; each
keeps the seconds its own training took, which is what the report divides by.

WORKSPACE is a prepared forgetflow workspace (`forgetflow init DIR`, set `data.train_per_class`,
`forgetflow -w DIR prepare`); its params.yaml gives the recipe: base and oracles are trained with
`train:` (the same recipe), unlearning with `unlearn:`. Per model family and scenario — one whole
class (a label request), ~1% of the training split chosen by data subject (subject requests) — the
forget/retain/evaluation split is the product's own (`split_for_batch`, `evaluation_sets`).
All images are loaded into memory before anything is timed.

Writes benchmarks/results/<date>-<host>.json (+ .md and figures) and logs to the MLflow experiment
`forgetflow-benchmark`. Not part of the test suite: it trains 1 + 2 x oracles models per family.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import platform
import socket
import time
from dataclasses import asdict, replace
from datetime import date
from pathlib import Path

import torch

from components import data, registry
from components.data.forget_set import evaluation_sets, retained_training, split_for_batch, spread
from components.device import pick_device, seed_everything
from components.evaluation import baselines, forgetting, gates, grids, membership, references
from components.evaluation.stats import images_for_accuracy, mean_ci
from components.models import checkpoint
from components.models.masking import make_mask
from components.models.recipes import memorising_recipe, train_inpainter
from components.unlearning.config import METHODS
from components.unlearning.methods import unlearn
from flows import workspace
from flows.params import Params, load_params
from flows.train_base import FAMILIES, FEATURENET, train_featurenet

RESULTS = Path(__file__).parent / "results"
CLASS_LABEL = 7  # Sneaker
SAMPLE_FRACTION = 0.01


class Data:
    """Every image of the workspace, loaded once (and verified) before anything is timed."""

    def __init__(self, ws: workspace.Workspace) -> None:
        self.samples = data.read_manifest(ws.data_dir)
        data.verify_files(ws.data_dir, self.samples)
        self.index = {s.sample_id: k for k, s in enumerate(self.samples)}
        self.x = data.load_images(ws.data_dir, self.samples)
        self.y = data.load_labels(self.samples)
        self.split_of = {s.sample_id: s.split for s in self.samples}
        self.label_of = {s.sample_id: s.label for s in self.samples}

    def images(self, ids: list[str]) -> torch.Tensor:
        return self.x[[self.index[i] for i in ids]]

    def labels(self, ids: list[str]) -> torch.Tensor:
        return self.y[[self.index[i] for i in ids]]

    def ids(self, split: str) -> list[str]:
        return [s.sample_id for s in self.samples if s.split == split]


def scenario_lists(d: Data, kind: str, params: Params, label: int = CLASS_LABEL) -> dict[str, list[str]]:
    """The product's split for a class request (`label`) or for subject requests covering ~1% of train."""
    if kind == "class":
        requested = {s.sample_id for s in d.samples if s.label == label}
        labels = {label}
    else:
        train = [s for s in d.samples if s.split == "train"]
        order = sorted({s.subject_id for s in train}, key=lambda x: hashlib.sha256(x.encode()).hexdigest())
        requested, labels = set(), set()
        for subject in order:
            if sum(d.split_of[i] == "train" for i in requested) >= SAMPLE_FRACTION * len(train):
                break
            requested |= {s.sample_id for s in d.samples if s.subject_id == subject}
    lists = split_for_batch(d.samples, requested, labels, params.unlearn.retain_samples, params.unlearn.seed).lists()
    lists["retrain"] = [i for i in d.ids("train") if i not in requested]  # D \ D_F: the oracle's training set
    return lists


class Bench:
    def __init__(self, ws: workspace.Workspace, params: Params, out: Path, label: int = CLASS_LABEL) -> None:
        self.ws, self.params, self.out, self.label, self.device = ws, params, out, label, pick_device()
        self.d = Data(ws)
        if not (ws.models_dir / FEATURENET).is_file():
            train_featurenet(ws, params)
        self.featurenet = checkpoint.load(ws.models_dir / FEATURENET)
        self.masks = params.evaluate.masks()
        self.n_eval = images_for_accuracy(params.evaluate.accuracy_ci)

    def train(self, family: str, ids: list[str], seed: int, desc: str) -> tuple[torch.nn.Module, float]:
        """The base recipe (`train:`) from scratch; base and oracles alike."""
        seed_everything(seed)
        model = FAMILIES[family].build(self.params)
        result = train_inpainter(
            model,
            self.d.images(ids),
            replace(self.params.train, seed=seed),
            self.device,
            torch.Generator().manual_seed(seed),
            desc=desc,
        )
        return model, result.seconds

    def cached(self, family: str, ids: list[str], seed: int, desc: str, path: Path | None) -> tuple[torch.nn.Module, float]:
        """Train with the base recipe (timed), or load what an earlier process trained and timed at `path` —
        only if it had the same model config, recipe, seed and training images (else exit: never mix recipes)."""
        wanted = {
            "config": asdict(FAMILIES[family].build(self.params).config),
            "recipe": asdict(replace(self.params.train, seed=seed)),
            "images_sha256": hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest(),
        }
        if path is not None and path.is_file():
            meta = checkpoint.read_meta(path)
            differ = {k: meta.get(k) for k in wanted if meta.get(k) != wanted[k]}
            if differ:
                raise SystemExit(
                    f"{path} differs from what this run trains: {differ} (wanted {wanted}); delete it or use another directory"
                )
            return checkpoint.load(path), float(meta["train_seconds"])
        model, seconds = self.train(family, ids, seed, desc)
        if path is not None:
            checkpoint.save(
                model,
                path,
                extra={"train_seconds": seconds, "recipe": wanted["recipe"], "images_sha256": wanted["images_sha256"]},
            )
        return model, seconds

    def base(self, family: str, cache: Path | None) -> tuple[torch.nn.Module, float]:
        return self.cached(
            family, self.d.ids("train"), self.params.train.seed, f"base {family}", cache and cache / f"{family}.pt"
        )

    def tag(self, family: str, kind: str) -> str:
        return f"{family}-{kind}{self.label if kind == 'class' else ''}"

    def lists(self, kind: str) -> dict[str, list[str]]:
        return scenario_lists(self.d, kind, self.params, self.label)

    def oracle(
        self, family: str, kind: str, lists: dict[str, list[str]], k: int, cache: Path | None
    ) -> tuple[torch.nn.Module, float]:
        """Retrain oracle k (seed 100 + k) on D \\ D_F."""
        tag = self.tag(family, kind)
        model, seconds = self.cached(
            family, lists["retrain"], 100 + k, f"oracle {k} {tag}", cache and cache / f"{tag}-oracle{k}.pt"
        )
        print(f"[{tag}] oracle {k}: {seconds:.0f} s", flush=True)
        return model, seconds

    def base_row(self, family: str, model: torch.nn.Module, seconds: float) -> dict:
        test = self.d.ids("test")
        x, y = self.d.images(test), self.d.labels(test)
        metrics = forgetting.evaluate_set(
            model, self.featurenet, x, y, self.masks, self.device, self.params.evaluate.min_fid_samples
        )
        hole = make_mask(self.masks["centre"][0], x.shape[-1], self.masks["centre"][1])
        psnr = forgetting.per_image_psnr(model, x, {"centre": self.masks["centre"]}, self.device)
        return {
            "seconds": seconds,
            "n_train": len(self.d.ids("train")),
            "n_test": len(test),
            "psnr_centre": asdict(mean_ci(psnr)),
            "accuracy_centre": metrics["accuracy_centre"],
            "baselines_psnr_centre": baselines.baseline_psnr(self.d.images(self.d.ids("train")), x, hole),
        }

    def class_reference(self, lists: dict[str, list[str]], sets: dict[str, list[str]]) -> references.ClassReference:
        """The product's never-seen-the-class reference: 10-NN fills from `evaluate.reference_bank` training
        images of the retained classes, chosen as a batch chooses them."""
        ids = sets["forget_class"]
        retained = retained_training(self.d.samples, set(lists["removed"]), {self.label})
        bank = self.d.images(spread(retained, self.params.evaluate.reference_bank))
        return references.class_reference(
            self.featurenet, bank, self.d.images(ids), self.d.labels(ids), self.masks["centre"], self.device
        )

    def measure(
        self,
        model: torch.nn.Module,
        lists: dict[str, list[str]],
        sets: dict[str, list[str]],
        references_: list[torch.nn.Module],
        class_ref: references.ClassReference | None = None,
    ) -> dict:
        """Quality per evaluation set, the class gates' evidence, the sample gap, and the calibrated membership attack."""
        out = {}
        for name, ids in sets.items():
            if ids:
                x, y = self.d.images(ids), self.d.labels(ids)
                m = forgetting.evaluate_set(
                    model, self.featurenet, x, y, self.masks, self.device, self.params.evaluate.min_fid_samples
                )
                out[name] = {k: m[k] for k in ("psnr_centre", "ssim_centre", "accuracy_centre", "psnr_border") if k in m}
        if class_ref is not None:
            out["class_gates"] = self.class_gates(model, sets["forget_class"], class_ref)
        members, non_members = self.membership_sets(lists, sets)
        if sets["forget_samples"]:
            gap = references.sample_gap(
                model, self.d.images(sets["forget_samples"]), self.d.images(non_members), self.masks, self.device
            )
            out["sample_gap_db"] = asdict(gap)
        out["mia"] = membership.calibrated_attack(
            model, references_, self.d.images(members), self.d.images(non_members), self.device
        )
        return out

    def class_gates(self, model: torch.nn.Module, ids: list[str], ref: references.ClassReference) -> dict:
        """The product's class gate (`gates:` in params.yaml) on this model: its verdict."""
        (evidence,) = references.class_evidence(
            model, self.featurenet, self.d.images(ids), self.d.labels(ids), {self.label: ref}, self.masks["centre"], self.device
        )
        verdicts = {g.name: g.verdict for g in gates.class_gates(self.params.gates, gates.Evidence({}, {}, classes=(evidence,)))}
        return {"psnr": asdict(evidence.psnr.interval()), **verdicts}

    def membership_sets(self, lists, sets) -> tuple[list[str], list[str]]:
        """Members: forgotten training images; non-members: unseen test images of the same classes."""
        members = [i for i in lists["forget"] if self.d.split_of[i] == "train"]
        labels = {self.d.label_of[i] for i in members}
        unseen = [i for i in self.d.ids("test") if self.d.label_of[i] in labels]  # never trained on, by any model
        n = min(len(members), len(unseen), self.n_eval)
        return spread(members, n), spread(unseen, n)

    def positive_control(
        self, base: torch.nn.Module, lists: dict[str, list[str]], sets: dict[str, list[str]], seed: int
    ) -> torch.nn.Module:
        """The base fine-tuned on exactly the members the attack scores: a model that certainly memorised
        them (the attack must see that)."""
        model = copy.deepcopy(base)
        members = self.membership_sets(lists, sets)[0]
        recipe = memorising_recipe(self.params.train.lr / 2, 30, seed)
        train_inpainter(
            model, self.d.images(members), recipe, self.device, torch.Generator().manual_seed(seed), desc="positive control"
        )
        return model

    def run_method(
        self, base: torch.nn.Module, method: str, lists: dict[str, list[str]], seed: int
    ) -> tuple[torch.nn.Module, dict]:
        cfg = replace(self.params.unlearn, method=method, seed=seed)
        retain_key = {"encoder-noise-proxy": "proxy"}.get(method, "retain")
        forget, retain = self.d.images(lists["forget"]), self.d.images(lists[retain_key])
        model = copy.deepcopy(base)
        start = time.perf_counter()
        result = unlearn(model, forget, retain, cfg, self.device)
        seconds = time.perf_counter() - start
        return model, {
            "seconds": seconds,
            "steps": result.fit.steps,
            "kept": result.kept_steps,
            "budget": result.budget,
            "stop_reason": result.fit.stop_reason,
        }

    def scenario(
        self, family: str, base: torch.nn.Module, kind: str, methods: list[str], seeds: int, n_oracles: int, cache: Path | None
    ) -> dict:
        tag, lists = self.tag(family, kind), self.lists(kind)
        sets = evaluation_sets(lists, self.d.split_of, self.n_eval)
        trained = [self.oracle(family, kind, lists, k, cache) for k in range(n_oracles)]
        oracles, oracle_seconds = [model for model, _ in trained], [seconds for _, seconds in trained]
        ref = self.class_reference(lists, sets) if sets["forget_class"] else None
        rows: dict[str, list[dict]] = {"original": [{"seconds": 0.0, **self.measure(base, lists, sets, oracles, ref)}]}
        rows["retrain"] = [
            {"seconds": s, **self.measure(o, lists, sets, [r for r in oracles if r is not o], ref)}
            for o, s in zip(oracles, oracle_seconds, strict=True)
        ]
        control = self.positive_control(base, lists, sets, seed=0)
        rows["positive-control"] = [{"seconds": 0.0, **self.measure(control, lists, sets, oracles, ref)}]
        examples = {"original": base, "retrain": oracles[0]}
        for method in methods:
            rows[method] = []
            for seed in range(seeds):
                model, timing = self.run_method(base, method, lists, seed)
                rows[method].append({**timing, **self.measure(model, lists, sets, oracles, ref)})
                examples.setdefault(method, model)
                print(
                    f"[{tag}] {method} seed {seed}: {timing['steps']}/{timing['budget']} steps ({timing['kept']} kept), {timing['seconds']:.1f} s "
                    f"({timing['stop_reason']})",
                    flush=True,
                )
        self.grid(tag, sets, examples)
        return {
            "family": family,
            "scenario": kind,
            "label": self.label if kind == "class" else None,
            "n_forget": len(lists["forget"]),
            "n_train": len(lists["retrain"]) + len(lists["forget"]),
            "n_eval": {k: len(v) for k, v in sets.items()},
            "class_reference": ref and asdict(ref),
            "n_mia": len(self.membership_sets(lists, sets)[0]),
            "rows": rows,
            "summary": summarise(rows),
        }

    def grid(self, tag: str, sets: dict[str, list[str]], models: dict[str, torch.nn.Module]) -> None:
        """Forgotten images first (class: unseen images of the class; sample: the trained images), then retain."""
        forgotten = (sets["forget_class"] or sets["forget_samples"])[:8]
        x = self.d.images(forgotten + sets["retain"][:4])
        mask = make_mask(self.masks["centre"][0], x.shape[-1], self.masks["centre"][1], len(x))
        grids.save_grid(
            [x, x * (1 - mask)] + [m.eval().inpaint(x.to(self.device), mask.to(self.device)).cpu() for m in models.values()],
            self.out / f"{tag}-grid.png",
        )


def _leaves(row: dict, prefix: str = "") -> dict[str, float]:
    """Flatten a measurement row to numeric leaves: {"retain.psnr_centre": 16.1, "mia.auc.mean": 0.51, ...}."""
    out = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_leaves(value, name + "."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = float(value)
    return out


def summarise(rows: dict[str, list[dict]]) -> dict[str, dict[str, dict]]:
    """Per method and metric: mean over seeds with a 95% t interval (one seed: the value, no interval)."""
    summary = {}
    for method, runs in rows.items():
        leaves = [_leaves(r) for r in runs]
        summary[method] = {
            k: asdict(mean_ci(torch.tensor([lv[k] for lv in leaves]))) for k in leaves[0] if all(k in lv for lv in leaves)
        }
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-w", "--workspace", type=Path, default=None)
    parser.add_argument("--families", nargs="+", default=["mae"], choices=list(FAMILIES))
    parser.add_argument(
        "--methods",
        nargs="+",
        default=["encoder-noise", "encoder-noise-proxy", "random-encoder", "retain-label"],
        choices=[m for m in METHODS if m != "retrain"],
    )
    parser.add_argument("--scenarios", nargs="+", default=["class", "sample"], choices=["class", "sample"])
    parser.add_argument(
        "--label", type=int, default=CLASS_LABEL, help="the class the class scenario forgets (default 7, Sneaker)"
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--oracles", type=int, default=2)
    parser.add_argument(
        "--base-dir", type=Path, default=None, help="load each family's base from DIR/<family>.pt, or train and save it there"
    )
    parser.add_argument(
        "--oracle-dir",
        type=Path,
        default=None,
        help="load oracle k from DIR/<family>-<scenario>-oracle<k>.pt (scenario: class<label> or sample), or train and save it there",
    )
    parser.add_argument(
        "--only-oracles",
        type=int,
        nargs="+",
        default=None,
        metavar="K",
        help="train (or load) just these oracles into --oracle-dir and exit: one process per oracle runs them side by side",
    )
    parser.add_argument("--name", default=None, help="results file stem (default: <date>-<host>)")
    args = parser.parse_args()
    if args.seeds < 1 or args.oracles < 2:
        parser.error("need --seeds >= 1 and --oracles >= 2 (their difference is the noise floor)")
    if args.only_oracles is not None and args.oracle_dir is None:
        parser.error("--only-oracles needs --oracle-dir (where the oracles go)")
    ws = workspace.resolve(args.workspace)
    params = load_params(ws.params_file)
    stamp = args.name or f"{date.today().isoformat()}-{socket.gethostname()}"
    out = RESULTS / stamp
    start = time.perf_counter()
    bench = Bench(ws, params, out, args.label)
    if args.only_oracles is not None:
        for family in args.families:
            for kind in args.scenarios:
                for k in args.only_oracles:
                    bench.oracle(family, kind, bench.lists(kind), k, args.oracle_dir)
        return
    out.mkdir(parents=True, exist_ok=True)
    results = {
        "date": date.today().isoformat(),
        "host": socket.gethostname(),
        "device": str(bench.device),
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "data_dvc_md5": ws.data_version(),
        "params": {
            "train": asdict(params.train),
            "unlearn": asdict(params.unlearn),
            "model": {f: asdict(FAMILIES[f].build(params).config) for f in args.families},
        },
        "seeds": args.seeds,
        "oracles": args.oracles,
        "base": {},
        "scenarios": [],
    }
    for family in args.families:
        base, seconds = bench.base(family, args.base_dir)
        results["base"][family] = bench.base_row(family, base, seconds)
        print(f"[{family}] base: {json.dumps(results['base'][family])}", flush=True)
        for kind in args.scenarios:
            results["scenarios"].append(
                bench.scenario(family, base, kind, args.methods, args.seeds, args.oracles, args.oracle_dir)
            )
            _write(results, stamp, time.perf_counter() - start)  # partial results survive an interrupted run
    _write(results, stamp, time.perf_counter() - start)
    from benchmarks.report import markdown

    (RESULTS / f"{stamp}.md").write_text(markdown([results]))
    _log_to_mlflow(ws, results, out, RESULTS / f"{stamp}.md")
    print(markdown([results]))


def _write(results: dict, stamp: str, seconds: float) -> None:
    results["total_seconds"] = seconds
    (RESULTS / f"{stamp}.json").write_text(json.dumps(results, indent=2, default=str) + "\n")


def _log_to_mlflow(ws: workspace.Workspace, results: dict, figures: Path, table: Path) -> None:
    import mlflow

    registry.connect(ws.root, "forgetflow-benchmark")
    with mlflow.start_run(run_name=f"unlearning-vs-retrain {results['date']}"):
        for sc in results["scenarios"]:
            for method, metrics in sc["summary"].items():
                mlflow.log_metrics({f"{sc['family']}.{sc['scenario']}.{method}.{k}": v["mean"] for k, v in metrics.items()})
        mlflow.log_artifact(str(table))
        mlflow.log_artifacts(str(figures), "figures")


if __name__ == "__main__":
    main()
