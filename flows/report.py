"""Markdown summaries of batches, for reports/<batch>.md and the Prefect artifact."""

from __future__ import annotations

from pathlib import Path

from components.ledger import Batch, Request

KEY_METRICS = ("psnr_centre", "ssim_centre", "cosine_centre", "accuracy_centre", "fid_centre", "psnr_border", "accuracy_border")


def render_batch(batch: Batch, requests: list[Request], evaluation: dict | None, grid: Path, model_name: str) -> str:
    timings = batch.details.get("timings", {})
    lines = [
        f"# Deletion batch {batch.id}: {batch.status}",
        "",
        f"- model: `{model_name}` v{batch.parent_version} -> v{batch.model_version} ({batch.method})",
        f"- data.dvc md5: {batch.data_md5_before} -> {batch.data_md5_after or 'unchanged'}",
        f"- requests: {', '.join(f'{r.id} ({r.kind} {_short(r.selector)}: {len(r.sample_ids)} samples)' for r in requests)}",
    ]
    if batch.error:
        lines.append(f"- error: {batch.error}")
    if timings:
        total = sum(timings.values())
        lines += ["", "## Wall time per step", "", "| step | seconds |", "|---|---|"]
        order = ("extract", "validate", "unlearn", "evaluate", "register", "promote", "commit_data")
        lines += [f"| {step} | {timings[step]:.1f} |" for step in order if step in timings]
        lines.append(f"| **total (steps)** | **{total:.1f}** |")
    if evaluation:
        lines += ["", "## Forget vs retain (parent -> unlearned)", "", "| metric | forget: parent | forget: unlearned | retain: parent | retain: unlearned |",
                  "|---|---|---|---|---|"]
        for key in KEY_METRICS:
            if key in evaluation["forget"]["original"] or key in evaluation["retain"]["original"]:
                cells = [_fmt(evaluation[s][m].get(key)) for s in ("forget", "retain") for m in ("original", "unlearned")]
                lines.append(f"| {key} | " + " | ".join(cells) + " |")
        n_f, n_r = int(evaluation["forget"]["original"]["n"]), int(evaluation["retain"]["original"]["n"])
        lines += ["", f"Held-out images: {n_f} forget, {n_r} retain.", "", "## Gates", ""]
        lines += [f"- {'PASS' if g['passed'] else 'FAIL'} {g['name']}: {g['detail']}" for g in evaluation["gates"]]
        if grid.is_file():
            lines += ["", f"Retain examples (ground truth | masked | parent | unlearned): `{grid}`"]
    return "\n".join(lines) + "\n"


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _short(selector: list[str]) -> str:
    return ",".join(selector[:3]) + (f",… (+{len(selector) - 3})" if len(selector) > 3 else "")
