"""Markdown summaries of batches, for reports/<batch>.md and the Prefect artifact."""

from __future__ import annotations

from pathlib import Path

from components.evaluation.gates import verdict_of
from components.ledger import Batch, Request

SETS = {
    "forget_class": "forgotten classes (unseen images)",
    "forget_samples": "forgotten samples (trained images)",
    "retain": "retain (unseen images)",
}
KEY_METRICS = ("psnr_centre", "ssim_centre", "cosine_centre", "accuracy_centre", "fid_centre", "psnr_border", "accuracy_border")


def render_batch(batch: Batch, requests: list[Request], evaluation: dict | None, grid: Path, model_name: str) -> str:
    timings = batch.details.get("timings", {})
    lines = [
        f"# Deletion batch {batch.id}: {batch.status}",
        "",
        f"- model: `{model_name}` v{batch.parent_version} -> v{batch.model_version} ({batch.method})",
        f"- data.dvc md5: {batch.data_md5_before} -> {batch.data_md5_after or 'unchanged'}",
        f"- requests: {', '.join(f'{r.id} ({r.kind} {_short(r.selector)}: {len(r.sample_ids)} samples, due {r.due_at[:10]})' for r in requests)}",
    ]
    if batch.error:
        lines.append(f"- error: {batch.error}")
    if timings:
        total = sum(timings.values())
        lines += ["", "## Wall time per step", "", "| step | seconds |", "|---|---|"]
        order = ("imports", "extract", "validate", "unlearn", "evaluate", "register", "promote", "commit_data")
        lines += [f"| {step} | {timings[step]:.1f} |" for step in order if step in timings]
        lines.append(f"| **total (steps)** | **{total:.1f}** |")
    unlearn = batch.details.get("unlearn")
    if unlearn and "budget" in unlearn:
        kept = unlearn.get("kept_steps", unlearn["steps"])
        lines += [
            "",
            f"Unlearning: {unlearn['steps']} of {unlearn['budget']} budgeted steps"
            f"{f' (the weights of step {kept} kept)' if kept != unlearn['steps'] else ''}, {unlearn.get('seconds', 0):.1f} s; "
            f"stopped: {unlearn['stop_reason']}.",
        ]
    if evaluation:
        lines += ["", "## Parent -> unlearned, per evaluation set", ""]
        names = [n for n in SETS if n in evaluation]
        lines += [
            "| metric | " + " | ".join(f"{SETS[n]}: parent | unlearned" for n in names) + " |",
            "|---|" + "---|---|" * len(names),
        ]
        for key in KEY_METRICS:
            if any(key in evaluation[n]["original"] for n in names):
                cells = [_fmt(evaluation[n][m].get(key)) for n in names for m in ("original", "unlearned")]
                lines.append(f"| {key} | " + " | ".join(cells) + " |")
        sizes = ", ".join(f"{int(evaluation[n]['original']['n'])} {SETS[n]}" for n in names)
        lines += ["", f"Images: {sizes}.", "", "## Gates", ""]
        lines += [f"- {verdict_of(g).upper()} {g['name']}: {g['detail']}" for g in evaluation["gates"]]
        moved = [
            f"{g['name']}: parent {evaluation['parent_verdicts'][g['name']]} -> unlearned {verdict_of(g)}"
            for g in evaluation["gates"]
            if g["name"] in evaluation.get("parent_verdicts", {})
        ]
        if moved:
            lines += ["", "Forgetting verdicts on the same evidence, parent -> unlearned: " + "; ".join(moved) + "."]
        if evaluation.get("promoted_inconclusive"):
            lines += ["", "Promoted although a verdict is inconclusive, because `gates.on_inconclusive: promote`."]
        if grid.is_file():
            lines += ["", f"Retain examples (ground truth | masked | parent | unlearned): `{grid}`"]
    if batch.status == "needs_review":
        lines += [
            "",
            "## Next: a person decides",
            "",
            f"v{batch.model_version} is `challenger` and `data/` is unchanged. After reading the gates and the grid: "
            f'`forgetflow promote challenger --force --reason "..."` commits this batch; '
            f'`forgetflow reject {batch.id} --reason "..."` sends its requests back to pending.',
        ]
    return "\n".join(lines) + "\n"


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _short(selector: list[str]) -> str:
    return ",".join(selector[:3]) + (f",… (+{len(selector) - 3})" if len(selector) > 3 else "")


def demo_record(ws, scenario: str, phases: dict[str, float], outcome) -> dict:
    """reports/demo.json: what `forgetflow demo` did and measured, the file the README quotes (every
    number read back from the ledger, the batch's evaluation and the base's metrics, none typed in)."""
    import json
    import os
    import resource
    import sys

    from components import ledger as ledgers

    record: dict = {
        "scenario": scenario,
        "phases_s": phases,
        "total_s": round(sum(phases.values()), 1),
        "threads": _threads(),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "load_average_1_5_15_at_end": [round(x, 2) for x in os.getloadavg()],  # other work sharing the CPUs
        "peak_rss_mib": {
            "demo": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
            "largest_child": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024,
        },
        "data_dvc_md5": ws.data_version(),
        "git_commit": ws.git_commit(),
    }
    base = ws.metrics_dir / "base.json"
    if base.is_file():
        metrics = json.loads(base.read_text())
        record["base"] = {
            k: metrics[k]
            for k in ("psnr_centre", "baseline_1nn_psnr_centre", "baseline_10nn_psnr_centre", "train_seconds")
            if k in metrics
        }
    if outcome is not None and outcome.batch_id:
        with ledgers.Ledger(ws.ledger_path) as book:
            batch = book.batch(outcome.batch_id)
        evaluation_path = ws.batch_dir(outcome.batch_id) / "evaluation.json"
        evaluation = json.loads(evaluation_path.read_text()) if evaluation_path.is_file() else {}
        record["batch"] = {
            "id": outcome.batch_id,
            "status": outcome.status,
            "model_version": outcome.model_version,
            "step_seconds": batch.details.get("timings", {}),
            "unlearn": {
                k: batch.details.get("unlearn", {}).get(k) for k in ("steps", "kept_steps", "budget", "seconds", "stop_reason")
            },
            "gates": [{k: g.get(k) for k in ("name", "verdict", "detail", "detectable")} for g in evaluation.get("gates", [])],
            "parent_verdicts": evaluation.get("parent_verdicts", {}),
            "promoted_inconclusive": evaluation.get("promoted_inconclusive", False),
        }
    path = ws.reports_dir / "demo.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
    return record


def _threads() -> int:
    import torch

    return torch.get_num_threads()
