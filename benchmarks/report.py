"""Markdown for a benchmark JSON: every number printed here is read from the JSON, none typed in.

python -m benchmarks.report benchmarks/results/<stamp>.json [more.json ...]   (runs merged, in order)
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

PSNR_DROP_PCT, ACCURACY_DROP, TIME_SHARE = 2.0, 0.03, 0.02  # the issue's targets (= the default gates' tolerances)


def _ci(v: dict | None, digits: int = 3) -> str:
    if v is None:
        return "-"
    if v["n"] < 2 or v["low"] == float("-inf"):
        return f"{v['mean']:.{digits}f}"
    return f"{v['mean']:.{digits}f} [{v['low']:.{digits}f}, {v['high']:.{digits}f}]"


def base_table(results: dict) -> list[str]:
    lines = [
        "## Base models (test split, centre 16x16 hole, masked PSNR in dB)",
        "",
        "| family | train images | train s | model (95% CI over images) | mean image | 1-NN | 10-NN | beats 10-NN |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for family, b in results["base"].items():
        bl = b["baselines_psnr_centre"]
        lines.append(
            f"| {family} | {b['n_train']} | {b['seconds']:.0f} | {_ci(b['psnr_centre'], 2)} | {bl['mean']:.2f} | "
            f"{bl['1nn']:.2f} | {bl['10nn']:.2f} | {'yes' if b['psnr_centre']['low'] > bl['10nn'] else 'no'} |"
        )
    return lines + [""]


def scenario_table(sc: dict) -> list[str]:
    s = sc["summary"]
    oracle_t = s["retrain"]["seconds"]["mean"]
    label = "unseen images of the forgotten class" if sc["scenario"] == "class" else "the forgotten *training* images"
    lines = [
        f"## {sc['family']}, {sc['scenario']}-level: {sc['n_forget']} forgotten of {sc['n_train']} training images",
        "",
        f"Forget metrics on {label}; retain on {sc['n_eval']['retain']} unseen images of untouched classes; "
        f"membership attack on {sc['n_mia']} members vs {sc['n_mia']} non-members (5 masks). "
        "Mean over seeds [95% t interval]; single runs show the value.",
        "",
        "| method | runs | steps run (kept) / budget | stopped by | wall s | ÷ oracle | forget acc | forget PSNR | sample gap dB | retain PSNR | retain acc | MIA AUC raw | MIA AUC calibrated |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    forget = "forget_class" if sc["scenario"] == "class" else "forget_samples"
    for method, m in s.items():
        kept = f" ({m['kept']['mean']:.0f})" if "kept" in m else ""  # older results did not record it
        steps = f"{m['steps']['mean']:.0f}{kept} / {m['budget']['mean']:.0f}" if "steps" in m else "-"
        lines.append(
            f"| {method} | {len(sc['rows'][method])} | {steps} | {stopped_by(sc['rows'][method])} | {_ci(m['seconds'], 1)} | "
            f"{m['seconds']['mean'] / oracle_t:.4f} | {_ci(m.get(f'{forget}.accuracy_centre'))} | "
            f"{_ci(m.get(f'{forget}.psnr_centre'), 2)} | {_ci(m.get('sample_gap_db.mean'), 2)} | "
            f"{_ci(m.get('retain.psnr_centre'), 2)} | {_ci(m.get('retain.accuracy_centre'))} | "
            f"{_ci(m.get('mia.raw.mean'))} | {_calibrated(method, m, sc)} |"
        )
    return lines + ["", *targets(sc, forget), "", *class_gate_table(sc)]


def class_gate_table(sc: dict) -> list[str]:
    """The product's class gates applied to every model: which pass, in how many of its runs."""
    ref = sc.get("class_reference")
    if not ref:
        return []
    lines = [
        f"Class gate (params.yaml `gates:`) against the never-seen-the-class reference — the hole filled by 10-NN "
        f"from retained classes: PSNR {ref['psnr']:.2f} dB, recognisability {ref['accuracy']:.3f}. Verdicts over runs "
        "(results written before verdicts are judged again from their stored intervals):",
        "",
        "| model | forget PSNR, 95% CI over images (first run) | `class_psnr` |",
        "|---|---|---|",
    ]
    for method, rows in sc["rows"].items():
        verdicts = Counter(_verdict(r["class_gates"], ref["psnr"]) for r in rows)
        counts = ", ".join(f"{verdict} {n}" for verdict, n in sorted(verdicts.items()))
        lines.append(f"| {method} | {_ci(rows[0]['class_gates']['psnr'], 2)} | {counts} of {len(rows)} |")
    return lines + [""]


def _verdict(row: dict, reference: float) -> str:
    """The row's class_psnr verdict; rows written before verdicts (pass/fail) are judged again from
    their stored interval with today's rule and default margin, so old and new results read alike."""
    from components.evaluation.gates import GateConfig, equivalence
    from components.evaluation.stats import estimate_from_interval

    if isinstance(row["class_psnr"], str):
        return row["class_psnr"]
    estimate = estimate_from_interval(row["psnr"])
    return equivalence(replace(estimate, mean=estimate.mean - reference), -math.inf, GateConfig().class_psnr_slack_db)


def _calibrated(method: str, m: dict, sc: dict) -> str:
    """Two oracles calibrated by each other score mirror images (AUC_a = 1 - AUC_b): their mean is 0.5
    by construction, not a measurement, so it is not printed as one."""
    if method == "retrain" and len(sc["rows"]["retrain"]) == 2:
        return "(0.5 by construction)"
    return _ci(m.get("mia.calibrated.mean"))


def stopped_by(rows: list[dict]) -> str:
    """How the runs ended, by the first word of their stop reason: "retain 2, plateau 1"."""
    reasons = Counter(r["stop_reason"].replace(":", " ").replace(";", " ").split()[0] for r in rows if "stop_reason" in r)
    return ", ".join(f"{k} {n}" for k, n in reasons.most_common()) or "-"


def noise_floor(sc: dict, key: str) -> float:
    """|oracle 0 - oracle 1| (max over pairs): two retrains that differ only in their seed."""
    values = [r for r in (_get(row, key) for row in sc["rows"]["retrain"]) if r is not None]
    return max(values) - min(values) if len(values) > 1 else float("nan")


def _get(row: dict, key: str) -> float | None:
    for part in key.split("."):
        if not isinstance(row, dict) or part not in row:
            return None
        row = row[part]
    return row


def moved(s: dict, sc: dict, key: str) -> tuple[str, bool, str]:
    """Did encoder-noise move `key` from the base at least as far as the oracles did (less their noise floor)?"""
    floor = noise_floor(sc, key)
    base = s["original"][key]["mean"]
    moved_en, moved_oracle = base - s["encoder-noise"][key]["mean"], base - s["retrain"][key]["mean"]
    return (
        f"forget `{key}` moved from the base at least as far as the oracle's, within the oracle noise floor ({floor:.3f})",
        moved_en >= moved_oracle - floor,
        f"{moved_en:.3f} vs {moved_oracle:.3f}",
    )


def targets(sc: dict, forget: str) -> list[str]:
    s = sc["summary"]
    if "encoder-noise" not in s:
        return []
    en, orig, orc = s["encoder-noise"], s["original"], s["retrain"]
    keys = [f"{forget}.accuracy_centre", f"{forget}.psnr_centre"] if sc["scenario"] == "class" else ["sample_gap_db.mean"]
    share = en["seconds"]["mean"] / orc["seconds"]["mean"]
    psnr_drop = 100 * (orig["retain.psnr_centre"]["mean"] - en["retain.psnr_centre"]["mean"]) / orig["retain.psnr_centre"]["mean"]
    acc_drop = orig["retain.accuracy_centre"]["mean"] - en["retain.accuracy_centre"]["mean"]
    checks = [
        (f"wall time <= {100 * TIME_SHARE:.0f}% of the oracle", share <= TIME_SHARE, f"{100 * share:.2f}%"),
        *(moved(s, sc, key) for key in keys),
        (f"retain PSNR within {PSNR_DROP_PCT}% of the base", psnr_drop <= PSNR_DROP_PCT, f"{psnr_drop:+.2f}% drop"),
        (f"retain accuracy within {ACCURACY_DROP} of the base", acc_drop <= ACCURACY_DROP, f"{acc_drop:+.3f} drop"),
    ]
    control, original = s["positive-control"].get("mia.calibrated.mean"), orig.get("mia.calibrated.mean")
    lines = [
        "Targets for encoder-noise: " + "; ".join(f"**{'MET' if ok else 'MISSED'}** {name} ({v})" for name, ok, v in checks) + "."
    ]
    if control and original:
        control_row = sc["rows"]["positive-control"][0]["mia"]["calibrated"]
        original_row = sc["rows"]["original"][0]["mia"]["calibrated"]
        detects = control_row["low"] > 0.5
        lines.append(
            f"Membership attack: positive control (base fine-tuned on the forget set) calibrated AUC "
            f"{_ci(control_row)} — {'detected' if detects else 'NOT detected'}; the base model itself "
            f"{_ci(original_row)} — {'a membership signal' if original_row['low'] > 0.5 else 'no membership signal at this scale (interval includes 0.5)'}."
        )
    return lines


def markdown(runs: list[dict]) -> str:
    """One report for one or more runs of the same configuration (e.g. one process per scenario)."""
    bases: dict[str, dict] = {}
    for family, b in ((f, b) for r in runs for f, b in r["base"].items()):
        if bases.setdefault(family, b) != b:
            raise SystemExit(f"the runs disagree on the {family} base: merge only runs that share it (--base-dir)")
    results = {**runs[0], "scenarios": [sc for r in runs for sc in r["scenarios"]], "base": bases}
    minutes = ", ".join(f"{r.get('total_seconds', 0) / 60:.0f}" for r in runs)
    lines = [
        f"# Unlearning vs retrain — {results['date']} on {results['host']} ({results['device']}, "
        f"{results['threads']} threads, torch {results['torch']})",
        "",
        f"{results['seeds']} seeds per method, {results['oracles']} independently seeded retrain oracles per scenario; "
        f"{len(runs)} run(s) of {minutes} min.",
        "",
    ]
    lines += base_table(results)
    for sc in results["scenarios"]:
        lines += scenario_table(sc)
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown([json.loads(Path(arg).read_text()) for arg in sys.argv[1:]]))
