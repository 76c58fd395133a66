"""What each step of a deletion batch does, as plain functions of (workspace, params, batch id).

The Prefect tasks in `deletion_batch.py` are one-line wrappers around these, so the logic can be
read and tested without an orchestrator. Every step leaves its outputs in the batch's scratch
directory and records its progress (and wall time) in the ledger.
"""

from __future__ import annotations

import hashlib
import json
import time
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd

from components import data, registry, validation
from components import ledger as ledgers
from components.data.forget_set import (
    ForgetSet,
    distinct_images,
    evaluation_sets,
    list_sha256,
    retained_training,
    split_for_batch,
    spread,
)
from components.errors import CheckpointError, DataValidationError, RegistryError
from flows import data_commit, dvc_repo
from flows.compliance import index  # steps record what they register; they never run purge or guards
from flows.params import Params, prefixed
from flows.workspace import Workspace, unlearned_paths

LISTS = tuple(ForgetSet.__dataclass_fields__)
EVALUATION_SETS = ("retain", "forget_class", "forget_samples")


@contextmanager
def _step(ws: Workspace, batch_id: str, name: str):
    """Open the ledger for a step and record the step's wall time when it completes."""
    ledger = ledgers.Ledger(ws.ledger_path)
    start = time.perf_counter()
    try:
        yield ledger
        details = ledger.batch(batch_id).details
        details.setdefault("timings", {})[name] = round(time.perf_counter() - start, 2)
        ledger.update_batch(batch_id, step=name, details=details)
    finally:
        ledger.close()


def read_lists(ws: Workspace, batch_id: str) -> dict[str, list[str]]:
    scratch = ws.batch_dir(batch_id)
    return {name: (scratch / f"{name}.txt").read_text().split() for name in LISTS}


def _samples(ws: Workspace, ids: list[str]) -> list[data.Sample]:
    by_id = {s.sample_id: s for s in data.read_manifest(ws.data_dir)}
    return [by_id[i] for i in ids]


def _champion(client, params: Params) -> int:
    try:
        return registry.resolve_version(client, params.registry.model_name, registry.CHAMPION)
    except RegistryError as exc:
        raise RegistryError("no champion model to unlearn from: run `forgetflow demo` or `dvc repro` first") from exc


def import_libraries(ws: Workspace, batch_id: str) -> None:
    """Import the heavy libraries once, up front, as their own line in the batch's timings: every
    batch process pays them (~4 s: torch, Great Expectations), and inside a step they would read as
    that step's work."""
    with _step(ws, batch_id, "imports"):
        import great_expectations  # noqa: F401
        import torch  # noqa: F401


def extract(ws: Workspace, params: Params, batch_id: str) -> Path:
    """Resolve the batch's requests against the manifest into id lists, with their sha256."""
    with _step(ws, batch_id, "extract") as ledger:
        batch = ledger.batch(batch_id)
        requests = [ledger.request(r) for r in batch.request_ids]
        samples = data.read_manifest(ws.data_dir)
        requested = {i for r in requests for i in r.sample_ids}
        by_label = {i for r in requests if r.kind == "label" for i in r.sample_ids}
        labels = {s.label for s in samples if s.sample_id in by_label}
        client = registry.connect(ws.root, params.registry.experiment)
        parent = batch.parent_version or _champion(client, params)  # a resumed batch keeps its parent
        parent_tags = client.get_model_version(params.registry.model_name, str(parent)).tags
        forget_set = split_for_batch(samples, requested, labels, params.unlearn.retain_samples, params.unlearn.seed)
        scratch = ws.batch_dir(batch_id)
        scratch.mkdir(parents=True, exist_ok=True)
        for name, ids in forget_set.lists().items():
            (scratch / f"{name}.txt").write_text("".join(f"{i}\n" for i in ids))
        summary = {
            "lists": {name: {"n": len(ids), "sha256": list_sha256(ids)} for name, ids in forget_set.lists().items()},
            "labels": sorted(labels),
            "parent_version": parent,
            "data_dvc_md5": ws.data_version(),
            "parent_data_dvc_md5": parent_tags.get("data_dvc_md5"),
        }
        (scratch / "extract.json").write_text(json.dumps(summary, indent=2) + "\n")
        ledger.update_batch(batch_id, parent_version=parent, data_md5_before=ws.data_version())
    return scratch / "extract.json"


def validate(ws: Workspace, params: Params, batch_id: str) -> tuple[Path, validation.ValidationReport]:
    """Great Expectations on what the batch reads or changes: the manifest rows, data/ against DVC's
    record (same files, same manifest), the batch's ids and files (re-hashed against the manifest
    and DVC's record), the image tensors. Nothing here grows with data/ beyond listing it: the full
    re-hash is `forgetflow audit`; the data commit checks the new version against the old."""
    with _step(ws, batch_id, "validate"):
        lists = read_lists(ws, batch_id)
        manifest = data.read_manifest(ws.data_dir)
        by_id = {s.sample_id: s for s in manifest}
        n_classes = max(s.label for s in manifest) + 1
        roles = [(i, "forget") for i in lists["removed"]] + [(i, "retain") for i in lists["retain"]]
        record = dvc_repo.listing(ws)
        batch_rows = [_file_row(ws, by_id.get(i), i, role, record) for i, role in roles]
        train = [s for s in manifest if s.split == "train"]
        removed = set(lists["removed"])
        tensor_rows = _tensor_rows(ws, [by_id[i] for i, _ in roles if i in by_id])
        report = validation.run_suites(
            {
                "manifest": (_manifest_frame(manifest), validation.manifest_expectations(n_classes)),
                "dvc": (dvc_record_table(ws, record), validation.dvc_expectations()),
                "batch": (pd.DataFrame(batch_rows), validation.batch_expectations(n_classes)),
                "forget_fraction": (
                    pd.DataFrame({"is_forget": [int(s.sample_id in removed) for s in train]}),
                    validation.fraction_expectations(params.batch.max_forget_fraction),
                ),
                "tensors": (
                    pd.DataFrame(tensor_rows or [{"shape": "none", "finite": False, "min": 0.0, "max": 0.0}]),
                    validation.tensor_expectations(1, data.MODEL_IMAGE_SIZE),
                ),
            }
        )
        path = ws.batch_dir(batch_id) / "validation.json"
        path.write_text(json.dumps(asdict(report), indent=2, default=str) + "\n")
    return path, report


def audit(ws: Workspace) -> validation.ValidationReport:
    """The full data audit: every manifest row well-formed, every file re-hashed, DVC status clean.
    Its cost grows with the dataset, so it runs on its own (`forgetflow audit`), not in every batch."""
    manifest = data.read_manifest(ws.data_dir)
    rows = [asdict(s) | _file_row(ws, s, s.sample_id, "manifest") for s in manifest]
    n_classes = max(s.label for s in manifest) + 1
    return validation.run_suites(
        {
            "manifest": (pd.DataFrame(rows), validation.manifest_expectations(n_classes) + validation.file_expectations()),
            "dvc": (dvc_status_table(ws), validation.dvc_expectations()),
        }
    )


def _manifest_frame(manifest: list[data.Sample]) -> pd.DataFrame:
    """Column by column: 10x faster than a frame of `asdict` rows (0.05 s vs 0.5 s at 70k)."""
    return pd.DataFrame({name: [getattr(s, name) for s in manifest] for name in data.manifest.COLUMNS})


def dvc_status_table(ws: Workspace) -> pd.DataFrame:
    """DVC's own verdict on data/ against data.dvc (it re-hashes only files whose mtime/inode changed,
    but stats all of them: ~3 s at 70,000 files, so only the audit runs it)."""
    changed = dvc_repo.status(ws, ws.data_dvc)
    return pd.DataFrame([{"target": "data.dvc", "data_matches_dvc": not changed, "status": json.dumps(changed)}])


def dvc_record_table(ws: Workspace, record: dict[str, str]) -> pd.DataFrame:
    """data/ holds exactly the files of DVC's record, and the manifest is the recorded one."""
    on_disk = dvc_repo.files_on_disk(ws)
    manifest = ws.data_dir / data.MANIFEST_NAME
    return pd.DataFrame(
        [
            {
                "target": "data.dvc",
                "data_matches_dvc": on_disk == set(record)
                and manifest.is_file()
                and dvc_repo.md5_file(manifest) == record.get(data.MANIFEST_NAME),
                "extra": sorted(on_disk - set(record))[:5],
                "missing": sorted(set(record) - on_disk)[:5],
            }
        ]
    )


def _file_row(ws: Workspace, sample: data.Sample | None, sample_id: str, role: str, record: dict[str, str] | None = None) -> dict:
    path = ws.data_dir / sample.relpath if sample else None
    exists = bool(path and path.is_file())
    content = path.read_bytes() if exists else b""
    row = {
        "sample_id": sample_id,
        "role": role,
        "in_manifest": sample is not None,
        "file_exists": exists,
        "sha256_ok": exists and hashlib.sha256(content).hexdigest() == sample.sha256,
        "label": sample.label if sample else -1,
    }
    if record is not None:
        row["dvc_md5_ok"] = exists and record.get(sample.relpath) == hashlib.md5(content).hexdigest()
    return row


def _tensor_rows(ws: Workspace, samples: list[data.Sample]) -> list[dict]:
    """Shape and range of every image, loaded in one pass (one file at a time only to find which
    file is unreadable, if one is)."""
    try:
        images = data.load_images(ws.data_dir, samples) if samples else []
    except DataValidationError:
        return [_tensor_row(ws, s) for s in samples]
    return [_describe(s, x) for s, x in zip(samples, images, strict=True)]


def _tensor_row(ws: Workspace, sample: data.Sample) -> dict:
    try:
        x = data.load_images(ws.data_dir, [sample])[0]
    except DataValidationError:
        return {"sample_id": sample.sample_id, "shape": "unreadable", "finite": False, "min": 0.0, "max": 0.0}
    return _describe(sample, x)


def _describe(sample: data.Sample, x) -> dict:
    return {
        "sample_id": sample.sample_id,
        "shape": "x".join(map(str, x.shape)),
        "finite": bool(x.isfinite().all()),
        "min": float(x.min()),
        "max": float(x.max()),
    }


def unlearn(ws: Workspace, params: Params, batch_id: str) -> Path:
    """Run the batch's method on the parent model; save a content-hashed checkpoint under models/unlearned/."""
    from components.device import pick_device
    from components.models import checkpoint
    from components.unlearning.methods import unlearn as run_method

    with _step(ws, batch_id, "unlearn") as ledger:
        batch = ledger.batch(batch_id)
        cfg = replace(params.unlearn, method=batch.method)
        lists = read_lists(ws, batch_id)
        registry.connect(ws.root, params.registry.experiment)
        model = registry.load_inpainter(params.registry.model_name, str(batch.parent_version))
        forget = data.load_images(ws.data_dir, _samples(ws, lists["forget"]))
        retain = data.load_images(ws.data_dir, _samples(ws, _retain_ids(ws, cfg.method, lists)))
        result = run_method(model, forget, retain, cfg, pick_device())
        target = ws.batch_dir(batch_id) / "model.pt"  # copied to models/unlearned/ only by the data commit
        digest = checkpoint.save(model, target, extra={"deletion_batch_id": batch_id, "method": cfg.method})
        details = ledger.batch(batch_id).details
        details["unlearn"] = summary = {
            "epoch_losses": list(result.fit.epoch_losses),
            "steps": result.fit.steps,
            "kept_steps": result.kept_steps,
            "budget": result.budget,
            "stop_reason": result.fit.stop_reason,
            "probes": result.probes,
            "seconds": round(result.fit.seconds, 2),
            "n_forget": result.n_forget,
            "n_retain": result.n_retain,
            "weights_sha256": digest,
        }
        (ws.batch_dir(batch_id) / "unlearn.json").write_text(json.dumps(summary, indent=2) + "\n")  # probes: an MLflow artifact
        ledger.update_batch(batch_id, details=details)
    return target


def _retain_ids(ws: Workspace, method: str, lists: dict[str, list[str]]) -> list[str]:
    """Proxy images for the retain-free variant; the whole retained training split for the oracle."""
    if method == "encoder-noise-proxy":
        return lists["proxy"]
    if method == "retrain":
        gone = set(lists["removed"])
        return [s.sample_id for s in data.read_manifest(ws.data_dir) if s.split == "train" and s.sample_id not in gone]
    return lists["retain"]


def evaluate(ws: Workspace, params: Params, batch_id: str, checkpoint_path: Path) -> Path:
    """Parent vs unlearned on held-out sets sized for the gates' intervals; reference-based gates;
    a retain-only image grid. Sets: `retain` (unseen images of untouched classes), `forget_class`
    (unseen images of forgotten classes), `forget_samples` (the forgotten *training* images)."""
    from components.device import pick_device
    from components.evaluation import forgetting, gates
    from components.evaluation.stats import images_for_accuracy
    from components.models import checkpoint
    from flows.train_base import refresh_featurenet

    with _step(ws, batch_id, "evaluate") as ledger:
        batch = ledger.batch(batch_id)
        refresh_featurenet(ws)  # no metric from a network that still holds forgotten data
        featurenet_path = ws.models_dir / "featurenet.pt"
        if not featurenet_path.is_file():
            raise CheckpointError(f"{featurenet_path} missing: run `dvc repro` (stage train_featurenet)")
        featurenet = checkpoint.load(featurenet_path)
        registry.connect(ws.root, params.registry.experiment)
        models = {
            "original": registry.load_inpainter(params.registry.model_name, str(batch.parent_version)),
            "unlearned": checkpoint.load(checkpoint_path),
        }
        device, lists, masks = pick_device(), read_lists(ws, batch_id), params.evaluate.masks()
        by_id = {s.sample_id: s for s in data.read_manifest(ws.data_dir)}  # read once for every set below
        sets = evaluation_sets(lists, {i: s.split for i, s in by_id.items()}, images_for_accuracy(params.evaluate.accuracy_ci))
        loaded = {name: _load(ws, by_id, ids) for name, ids in sets.items() if ids}
        results = {
            name: {
                label: forgetting.evaluate_set(model, featurenet, x, y, masks, device, params.evaluate.min_fid_samples)
                for label, model in models.items()
            }
            for name, (x, y) in loaded.items()
        }
        judged = _evidence(
            ws, batch_id, by_id, lists, sets, loaded, results, models, featurenet, masks, device, params.evaluate.reference_bank
        )
        parent, evidence = (
            judged["original"],
            replace(judged["unlearned"], kept_steps=batch.details.get("unlearn", {}).get("kept_steps")),
        )
        checks = gates.check_gates(params.gates, evidence)
        # the parent on the same evidence: did unlearning move the verdict (remembered -> forgotten)?
        parent_verdicts = {
            c.name: c.verdict for c in gates.check_gates(params.gates, parent) if c.name in ("sample", "class_psnr")
        }
        details = ledger.batch(batch_id).details  # the audit trail and `contains` carry each verdict and its power
        details["verdicts"] = {c.name: {"verdict": c.verdict, "detectable": c.detectable} for c in checks}
        ledger.update_batch(batch_id, details=details)
        grid_ids = lists["eval_retain"][:: max(1, len(lists["eval_retain"]) // params.evaluate.grid_rows)][
            : params.evaluate.grid_rows
        ]
        forgetting.save_retain_grid(
            models["original"],
            models["unlearned"],
            _load(ws, by_id, grid_ids)[0],
            masks["centre"],
            ws.batch_dir(batch_id) / "retain_grid.png",
            device,
        )
        passed = gates.promotable(checks, params.gates.on_inconclusive)
        out = {
            **results,
            "evidence": _jsonable(evidence),
            "gates": [asdict(c) for c in checks],
            "gates_passed": passed,
            "parent_evidence": _jsonable(parent),
            "parent_verdicts": parent_verdicts,
            "on_inconclusive": params.gates.on_inconclusive,
            "promoted_inconclusive": passed and any(c.verdict == gates.INCONCLUSIVE for c in checks),
        }
        path = ws.batch_dir(batch_id) / "evaluation.json"
        path.write_text(json.dumps(out, indent=2) + "\n")
    return path


def _load(ws: Workspace, by_id: dict[str, data.Sample], ids: list[str]):
    samples = [by_id[i] for i in ids]
    return data.load_images(ws.data_dir, samples), data.load_labels(samples)


def _evidence(ws, batch_id, by_id, lists, sets, loaded, results, models, featurenet, masks, device, bank_size) -> dict:
    """The reference-based quantities the gates need, per model (components/evaluation/references.py).
    Both references fill holes from training images the batch keeps, spread evenly over them; each
    is model-free, so computed once for both models."""
    from components.evaluation import gates, references

    sample_ref = class_refs = None
    if "forget_samples" in loaded:
        x_f, y_f = _load(ws, by_id, distinct_images(sets["forget_samples"], by_id))
        labels = {i: by_id[i].label for i in lists["eval_retain"]}
        unseen = references.unseen_same_classes(lists["eval_retain"], labels, set(y_f.tolist()))
        x_u, _ = _load(ws, by_id, spread(unseen, len(sets["retain"])))
        bank = _load(ws, by_id, spread(retained_training(list(by_id.values()), set(lists["removed"]), set()), bank_size))[0]
        sample_ref = references.sample_reference(x_f, x_u, bank)
    if "forget_class" in loaded:
        x_c, y_c = loaded["forget_class"]
        forgotten_labels = set(json.loads((ws.batch_dir(batch_id) / "extract.json").read_text())["labels"])
        retained = retained_training(list(by_id.values()), set(lists["removed"]), forgotten_labels)
        bank = _load(ws, by_id, spread(retained, bank_size))[0]
        class_refs = references.class_references(featurenet, bank, x_c, y_c, masks["centre"], device)
    return {
        label: gates.Evidence(
            results["retain"]["original"],
            results["retain"]["unlearned"],
            references.sample_evidence(model, sample_ref, device) if sample_ref else None,
            references.class_evidence(model, featurenet, x_c, y_c, class_refs, masks["centre"], device) if class_refs else (),
        )
        for label, model in models.items()
    }


def _jsonable(evidence) -> dict:
    return {k: v for k, v in asdict(evidence).items() if k not in ("retain_before", "retain_after")}


def register(ws: Workspace, params: Params, batch_id: str, checkpoint_path: Path, evaluation_path: Path) -> int:
    """Log the run and register a version with lineage tags; a rerun finds and reuses its version."""
    with _step(ws, batch_id, "register") as ledger:
        batch = ledger.batch(batch_id)
        client = registry.connect(ws.root, params.registry.experiment)
        name = params.registry.model_name
        existing = registry.version_for_batch(client, name, batch_id)
        if existing is not None:
            ledger.update_batch(batch_id, model_version=existing)
            return existing
        digest = hashlib.sha256(checkpoint_path.read_bytes()).hexdigest()
        if digest != batch.details["unlearn"]["weights_sha256"]:  # what was evaluated is what gets registered
            raise CheckpointError(
                f"{checkpoint_path.name} changed since it was unlearned and evaluated (sha256 {digest[:16]}… "
                f"≠ {batch.details['unlearn']['weights_sha256'][:16]}…); the batch is rolled back and re-run"
            )
        evaluation = json.loads(evaluation_path.read_text())
        extracted = json.loads((ws.batch_dir(batch_id) / "extract.json").read_text())
        metrics = {
            f"{s}.{m}.{k}": v
            for s in EVALUATION_SETS
            if s in evaluation
            for m in ("original", "unlearned")
            for k, v in evaluation[s][m].items()
        }
        run = batch.details["unlearn"]
        metrics.update(
            {
                "unlearn.steps": run["steps"],
                "unlearn.kept_steps": run.get("kept_steps", run["steps"]),
                "unlearn.budget": run["budget"],
            }
        )
        scratch = ws.batch_dir(batch_id)
        record = registry.TrainingRecord(
            run_name=batch_id,
            checkpoint=checkpoint_path,
            params={
                **asdict(replace(params.unlearn, method=batch.method)),
                **prefixed("gates", asdict(params.gates)),
                "stop_reason": batch.details["unlearn"]["stop_reason"],
            },
            metrics=metrics,
            version_tags={
                "stage": "unlearned",
                "parent_version": str(batch.parent_version),
                "deletion_batch_id": batch_id,
                "request_ids": ",".join(batch.request_ids),
                "n_forget": str(extracted["lists"]["removed"]["n"]),
                "forget_set_sha256": extracted["lists"]["removed"]["sha256"],
                "data_dvc_md5": batch.data_md5_before or "none",
                "data_dvc_md5_before": batch.data_md5_before or "none",
                "git_commit": ws.git_commit(),
                "method": batch.method,
                "gates_passed": str(evaluation["gates_passed"]).lower(),
                "gates": "; ".join(g["detail"] for g in evaluation["gates"]),
                "verdicts": verdict_summary(evaluation),
                "promoted_inconclusive": str(evaluation.get("promoted_inconclusive", False)).lower(),
                "weights_sha256": batch.details["unlearn"]["weights_sha256"],
                "unlearn_stop_reason": batch.details["unlearn"]["stop_reason"],
            },
            epoch_losses=batch.details["unlearn"]["epoch_losses"],
            artifacts=[
                evaluation_path,
                scratch / "validation.json",
                scratch / "extract.json",
                scratch / "unlearn.json",
                scratch / "retain_grid.png",
            ],
        )
        registered = registry.log_and_register(record, name)
        files = [str(p) for p in unlearned_paths(digest)] + [str(checkpoint_path.relative_to(ws.root))]
        index.index_unlearned(
            ws, client, name, registered.version, batch.parent_version, batch_id, registered.run_id, digest, files
        )
        ledger.update_batch(batch_id, model_version=registered.version)
    return registered.version


def promote(ws: Workspace, params: Params, batch_id: str, version: int, evaluation_path: Path) -> bool:
    """Gates passed: champion -> new version (old one -> previous-champion). Else challenger only."""
    with _step(ws, batch_id, "promote"):
        client = registry.connect(ws.root, params.registry.experiment)
        evaluation = json.loads(evaluation_path.read_text())
        verdicts = verdict_summary(evaluation)
        if evaluation["gates_passed"]:
            why = (
                "inconclusive verdict(s) promoted (gates.on_inconclusive: promote)"
                if evaluation.get("promoted_inconclusive")
                else "every gate passed"
            )
            registry.promote(client, params.registry.model_name, version, f"{batch_id}: {why} ({verdicts})")
        else:
            registry.set_challenger(client, params.registry.model_name, version, f"{batch_id}: needs review ({verdicts})")
        index.sync_aliases(ws, client, params.registry.model_name)
    return bool(evaluation["gates_passed"])


def verdict_summary(evaluation: dict) -> str:
    """ "sample=inconclusive (detects >= +1.9 dB), retain_psnr=pass, ...": what the tags, the alias
    reason, `contains` and `events` show."""
    from components.evaluation.gates import verdict_of

    return ", ".join(
        f"{g['name']}={verdict_of(g)}" + (f" (detects >= {g['detectable']:+.2f} dB)" if g.get("detectable") is not None else "")
        for g in evaluation["gates"]
    )


def commit_data(ws: Workspace, params: Params, batch_id: str, version: int) -> str:
    """Forgotten samples leave data/ (new DVC version, git commit + tag); requests become done."""
    with _step(ws, batch_id, "commit_data") as ledger:
        batch = ledger.batch(batch_id)
        tombstones = [(i, r) for r in batch.request_ids for i in ledger.request(r).sample_ids]
        md5 = data_commit.commit_data(
            ws,
            batch_id,
            read_lists(ws, batch_id)["removed"],
            tombstones,
            ws.batch_dir(batch_id) / "model.pt",
            f"forgetflow: {batch_id} forgets {len(tombstones)} samples -> model v{version}",
        )
        client = registry.connect(ws.root, params.registry.experiment)
        client.set_model_version_tag(params.registry.model_name, str(version), "data_dvc_md5_after", md5)
        ledger.update_batch(batch_id, data_md5_after=md5)
    return md5


def write_report(ws: Workspace, params: Params, batch_id: str) -> Path:
    """reports/<batch>.md: what was asked, what was done, how long it took, what it measured."""
    from flows.report import render_batch

    ledger = ledgers.Ledger(ws.ledger_path)
    try:
        batch = ledger.batch(batch_id)
        requests = [ledger.request(r) for r in batch.request_ids]
    finally:
        ledger.close()
    scratch = ws.batch_dir(batch_id)
    evaluation = json.loads((scratch / "evaluation.json").read_text()) if (scratch / "evaluation.json").is_file() else None
    path = ws.reports_dir / f"{batch_id}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_batch(batch, requests, evaluation, scratch / "retain_grid.png", params.registry.model_name))
    return path
