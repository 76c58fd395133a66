"""What a person reads: the `rich` tables and lines behind `forgetflow status`, `trace`, `requests`
and `contains` (and the demo, which shows the first two). Values in, renderables out: the commands
(flows/cli.py) and the demo (flows/demo.py) decide where they are printed; `--json` bypasses them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich import box
from rich.table import Table

from components.ledger import Request
from components.ledger.policy import deadline_state
from components.ledger.provenance import LineageEntry
from components.locations import tracking_uri
from flows.params import Params
from flows.workspace import Workspace

TRACE_KEYS = (
    "stage",
    "deletion_batch_id",
    "n_forget",
    "data_dvc_md5",
    "data_dvc_md5_after",
    "git_commit",
    "method",
    "gates_passed",
)


def status_table(ws: Workspace, params: Params) -> Table:
    """`forgetflow status`: flows/status.py's summary as a two-column table."""
    from flows.status import summary

    info = summary(ws, params)
    table = Table(show_header=False, box=None)
    table.add_row("workspace", info["workspace"])
    table.add_row("data version (data.dvc md5)", info["data_version"] or "none: run `forgetflow prepare`")
    champion = info["champion"]
    if champion is None:
        table.add_row("champion", "none: run `forgetflow demo` or `dvc repro`")
    else:
        table.add_row("champion", f"{info['model']} v{champion['version']}  (models:/{info['model']}@champion)")
        bad = {a: state for a, state in info["weights"].items() if state not in ("ok", "unchecked")}
        table.add_row(
            "  weights",
            ", ".join(f"[bold red]{a}: {state}[/]" for a, state in bad.items())
            + ("  (forgetflow audit; rollback or retrain)" if bad else "")
            or f"champion: {info['weights'].get('champion', 'unchecked')}",
        )
        for key in ("stage", "data_dvc_md5", "git_commit"):
            table.add_row(f"  {key}", champion.get(key) or "-")
    metrics = info["base_metrics"]
    if metrics:
        table.add_row("base test PSNR, centre hole", f"{metrics['psnr_centre']:.2f} dB")
        if "baseline_1nn_psnr_centre" in metrics:
            table.add_row(
                "  baselines: mean image / 1-NN / 10-NN",
                " / ".join(f"{metrics[f'baseline_{b}_psnr_centre']:.2f}" for b in ("mean", "1nn", "10nn")) + " dB",
            )
        table.add_row("base test PSNR, border", f"{metrics['psnr_border']:.2f} dB")
        table.add_row(
            "feature-net accuracy (GT / inpainted)",
            f"{metrics['featurenet_accuracy_ground_truth']:.3f} / {metrics['accuracy_centre']:.3f}",
        )
    queue = info["requests"]
    table.add_row(
        "requests pending",
        f"{queue['pending']} ({queue['pending_samples']} samples); processing {queue['processing']}; failed {queue['failed']}",
    )
    if queue["oldest_pending"]:
        table.add_row("  oldest pending", f"{queue['oldest_pending']['id']}, filed {queue['oldest_pending']['created_at']}")
    if queue["nearest_deadline"]:
        table.add_row("  nearest deadline", f"{queue['nearest_deadline']['id']}, due {queue['nearest_deadline']['due_at']}")
    if queue["overdue"] or queue["at_risk"]:
        table.add_row(
            "  [bold red]deadlines[/]",
            f"[bold red]{len(queue['overdue'])} overdue[/] {', '.join(queue['overdue'][:5])}; {queue['at_risk']} at risk",
        )
    if info["needs_review"]:
        table.add_row("needs review", ", ".join(info["needs_review"]) + "  (forgetflow promote challenger / reject)")
    schedule = info["schedule"]
    if schedule["serving"]:
        every = f"cron {schedule['cron']}" if schedule["cron"] else f"every {schedule['interval_s']:g} s"
        table.add_row("schedule", f"served (pid {schedule['pid']}, {every}); next run {schedule['next_run']}")
    else:
        table.add_row("schedule", "not served (forgetflow serve)")
    table.add_row(
        "  a scheduled run now would",
        ("run a batch: " if info["next_run_would"]["run"] else "") + info["next_run_would"]["reason"],
    )
    grid = ws.reports_dir / "base_grid.png"
    if grid.is_file():
        table.add_row("image grid", str(grid))
    table.add_row("MLflow UI", f"mlflow ui --backend-store-uri {tracking_uri(ws.root)}")
    return table


def trace_lines(chain: list[LineageEntry]) -> list[str]:
    """`forgetflow trace`: one line per version, newest first (rich markup)."""
    lines = []
    for e in chain:
        aliases = f" [bold]\\[{', '.join(e.aliases)}][/bold]" if e.aliases else ""
        lines.append(f"v{e.version}{aliases}  " + "  ".join(f"{k}={e.tags[k]}" for k in TRACE_KEYS if e.tags.get(k)))
    return lines


def trace_records(chain: list[LineageEntry]) -> list[dict[str, Any]]:
    """`forgetflow trace --json`."""
    keys = TRACE_KEYS + ("request_ids", "forget_set_sha256", "parent_version")
    return [{"version": e.version, "aliases": e.aliases, "run_id": e.run_id, **{k: e.tags.get(k) for k in keys}} for e in chain]


def requests_table(rows: list[Request], at: datetime, margin_days: float) -> Table:
    """`forgetflow requests`: fits 80 columns; selectors and versions are in --json."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for name, width in (
        ("id", 10),
        ("kind", 7),
        ("samples", 7),
        ("status", 10),
        ("due", 10),
        ("deadline", 8),
        ("batch", 12),
        ("selector", None),
    ):
        table.add_column(name, no_wrap=True, overflow="ellipsis", min_width=width)
    colours = {"overdue": "bold red", "at risk": "yellow"}
    for r in rows:
        state = deadline_state(r, at, margin_days)
        table.add_row(
            r.id,
            r.kind,
            str(len(r.sample_ids)),
            r.status,
            r.due_at[:10],
            f"[{colours[state]}]{state}[/]" if state in colours else state,
            r.batch_id or "",
            ",".join(r.selector),
        )
    return table


def contains_table(answer: dict) -> Table:
    """`forgetflow contains`: one row per artifact of flows/compliance/contains.py's answer."""
    table = Table("artifact", "aliases", "trained on", "still holds", "removed by", "forgetting verdicts", "weights")
    for row in answer["artifacts"]:
        table.add_row(
            row["artifact"],
            ",".join(row["aliases"]),
            str(row["trained_on"]),
            str(row["holds"]),
            ", ".join(f"{b} ({n})" for b, n in row["unlearned_by"].items()) or "-",
            "; ".join(
                f"{name}={v['verdict']}"
                for found in row["verdicts"].values()
                for name, v in found.items()
                if v["verdict"] not in ("pass", "fail")
            )
            or "-",
            _weights_state(row),
        )
    return table


def _weights_state(row: dict) -> str:
    if not row["purged_by"]:
        return "kept"
    if row.get("deletion_pending"):
        return f"deletion pending on server (purged by {row['purged_by']}; needs {row['deletion_pending']})"
    return f"purged by {row['purged_by']}"
